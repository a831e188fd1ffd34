"""Train a continuous-control agent, pruned once at initialization or gradually: offline,
python -m tfprune_rl.train_continuous --root_dir=DIR --dataset=FILE [flags]; online (SAC, TD3),
python -m tfprune_rl.train_continuous --root_dir=DIR --mode=online --agent=sac [flags].

The dataset is a D4RL-layout file (ours from tfprune-datasets, a D4RL .hdf5, or a Minari
directory). Defaults are TD3+BC's settings with the single-shot paper's 95% SNIP mask; online
runs take SAC's (experiments/continuous/sac_online.flags sets the value-based paper's GMP).
Flags are checked before TensorFlow is imported (see tfprune_rl.train).
"""

from absl import flags, logging

from tfprune_rl.console import quiet_startup
from tfprune_rl.entry_points import TRAINERS, fail, run_app, run_flag_values

PROGRAM = "tfprune-train-continuous"
FLAGS = flags.FLAGS
TRAINER = TRAINERS["continuous"]
RUN_FLAG_NAMES = TRAINER.define_flags(FLAGS)


def main(argv):
    if len(argv) > 1:
        fail(PROGRAM, f"unexpected arguments {argv[1:]}; all options are --flags")
    logging.set_verbosity(logging.ERROR)
    try:
        config = TRAINER.config_from_flags(FLAGS)
    except ValueError as error:
        fail(PROGRAM, str(error))
    with quiet_startup():
        from tfprune_rl import video
        from tfprune_rl.envs import continuous_specs, make_continuous_env
        from tfprune_rl.offline.transitions import load_transitions
        from tfprune_rl.continuous.trainer import check_dataset, train_continuous
        from tfprune_rl.lifecycle.run_dir import claim_run_dir
        from tfprune_rl.lifecycle.runner import RUN_STOPS
    try:
        env = make_continuous_env(config.env_id, "rgb_array" if config.capture_video else None)
        observation_spec, action_spec = continuous_specs(env)
        if config.capture_video:
            video.check_renders(env, config.env_id)
        env.close()
        if not config.online:
            check_dataset(load_transitions(config.dataset)[0], observation_spec, action_spec,
                          config.dataset)
        claim_run_dir(config.root_dir, run_flag_values(FLAGS, RUN_FLAG_NAMES))
        train_continuous(config, log=lambda line: print(line, flush=True))
    except (ValueError, *RUN_STOPS) as error:  # DatasetError is a ValueError
        fail(PROGRAM, str(error))


def run():
    run_app(PROGRAM, main, ("root_dir", *RUN_FLAG_NAMES))


if __name__ == "__main__":
    run()
