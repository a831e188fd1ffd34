"""Train a (pruned) value-based agent: python -m tfprune_rl.train --root_dir=DIR [flags].

Online by default; --mode=offline --dataset=PATH trains on a fixed dataset (recorded by a run
with --record_dataset, or DQN Replay files) and steps the env only to evaluate.

Defaults are the built-in CartPole-v1 run: double DQN with 3-step returns, width 4, sparsity
0.95. Pruning defaults are the paper's (Obando-Ceron et al., 2024); agent hyperparameters are a
CartPole setting, since the paper's are for Atari (noted in each flag's help; experiments/ has
the paper's Atari and MinAtar presets).

Flags are parsed and checked before TensorFlow is imported: --help and a bad value answer at
once; only a valid run imports what trains.
"""

from absl import flags, logging

from tfprune_rl.console import quiet_startup
from tfprune_rl.entry_points import TRAINERS, fail, run_app, run_flag_values

PROGRAM = "tfprune-train"
FLAGS = flags.FLAGS
TRAINER = TRAINERS["value_based"]
RUN_FLAG_NAMES = TRAINER.define_flags(FLAGS)


def main(argv):
    if len(argv) > 1:
        fail(PROGRAM, f"unexpected arguments {argv[1:]}; all options are --flags")
    logging.set_verbosity(logging.ERROR)  # progress lines are printed; TF's INFO would bury them
    try:
        config = TRAINER.config_from_flags(FLAGS)
    except ValueError as error:
        fail(PROGRAM, str(error))
    with quiet_startup():
        from tfprune_rl import video
        from tfprune_rl.envs import env_specs, make_gym_env
        from tfprune_rl.offline import DatasetError, dataset_chunks, dataset_spec
        from tfprune_rl.value_based import train
        from tfprune_rl.value_based.augmentation import check_augmentation
        from tfprune_rl.value_based.build import check_memory
        from tfprune_rl.lifecycle.run_dir import claim_run_dir
        from tfprune_rl.lifecycle.runner import RUN_STOPS
    try:
        env = make_gym_env(config.env_id, config.sticky_actions,
                           "rgb_array" if config.capture_video else None)
        observation_spec, action_spec = env_specs(env)
        if config.capture_video:
            video.check_renders(env, config.env_id)
        check_memory(config, observation_spec, action_spec)
        check_augmentation(config.augmentation, observation_spec.shape)
        if config.offline:
            dataset_chunks(config.dataset_path, dataset_spec(config.env_id, env))
        env.close()
        claim_run_dir(config.root_dir, run_flag_values(FLAGS, RUN_FLAG_NAMES))
    except (ValueError, OSError) as error:
        fail(PROGRAM, str(error))
    try:
        train(config, log=lambda line: print(line, flush=True))
    except (DatasetError, *RUN_STOPS) as error:  # a file found bad only once it is read
        fail(PROGRAM, str(error))


def run():
    run_app(PROGRAM, main, ("root_dir", *RUN_FLAG_NAMES))


if __name__ == "__main__":
    run()
