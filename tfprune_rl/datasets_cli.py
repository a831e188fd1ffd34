"""Make D4RL-style datasets for a continuous-control env: python -m tfprune_rl.datasets_cli
--env=HalfCheetah-v5 --output_dir=DIR. Trains SAC online and writes random.npz, medium.npz,
medium-replay.npz, expert.npz and manifest.json (reference returns for normalized scores).

Defaults are D4RL's (1M SAC steps, 1M transitions per dataset); experiments/continuous/ has a
CPU budget.
"""

from absl import flags, logging

from tfprune_rl.console import quiet_startup
from tfprune_rl.entry_points import fail, run_app
from tfprune_rl.envs.ids import CONTINUOUS_ENV_EXAMPLES, check_env_id, game_name
from tfprune_rl.continuous.config import GenerationConfig

PROGRAM = "tfprune-datasets"
DEFAULTS = GenerationConfig(env_id="HalfCheetah-v5", output_dir="datasets/{game}")
FLAGS = flags.FLAGS
flags.DEFINE_string("env", DEFAULTS.env_id, f"Environment: {CONTINUOUS_ENV_EXAMPLES}.")
flags.DEFINE_string("output_dir", DEFAULTS.output_dir, "Where the .npz files and manifest.json "
                    "go; {game} stands for the env's name (HalfCheetah), as in "
                    "experiments/continuous/datasets.flags.")
flags.DEFINE_integer("train_steps", DEFAULTS.train_steps, "SAC env steps (one update each). "
                     "D4RL: 1,000,000.")
flags.DEFINE_integer("dataset_size", DEFAULTS.dataset_size, "Transitions in the random, medium "
                     "and expert datasets. D4RL: 1,000,000.")
flags.DEFINE_integer("random_steps", DEFAULTS.random_steps, "SAC's uniformly random first "
                     "steps, before it learns. SAC (Haarnoja et al. 2018): 10,000.")
flags.DEFINE_integer("log_interval", DEFAULTS.log_interval, "Env steps between progress lines.")
flags.DEFINE_integer("seed", DEFAULTS.seed, "Seed of SAC, the envs and the datasets.")
FLAG_NAMES = ("env", "output_dir", "train_steps", "dataset_size", "random_steps", "log_interval",
              "seed")


def main(argv):
    if len(argv) > 1:
        fail(PROGRAM, f"unexpected arguments {argv[1:]}; all options are --flags")
    logging.set_verbosity(logging.ERROR)
    try:
        check_env_id(FLAGS.env, CONTINUOUS_ENV_EXAMPLES)
        config = GenerationConfig(
            env_id=FLAGS.env, output_dir=FLAGS.output_dir.replace("{game}", game_name(FLAGS.env)),
            train_steps=FLAGS.train_steps,
            dataset_size=FLAGS.dataset_size, random_steps=FLAGS.random_steps,
            log_interval=FLAGS.log_interval, seed=FLAGS.seed)
    except ValueError as error:
        fail(PROGRAM, str(error))
    with quiet_startup():
        from tfprune_rl.continuous.datasets import generate_datasets
        from tfprune_rl.lifecycle.runner import RUN_STOPS
    try:
        generate_datasets(config, log=lambda line: print(line, flush=True))
    except (ValueError, *RUN_STOPS) as error:
        fail(PROGRAM, str(error))


def run():
    run_app(PROGRAM, main, FLAG_NAMES)


if __name__ == "__main__":
    run()
