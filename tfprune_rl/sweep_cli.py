"""Run a sweep: tfprune-sweep --root_dir=DIR --trainer_flagfile=F --games=... --grid=... --seeds=N.

Every trial is the ordinary trainer with its own run directory (DIR/<game>/<grid point>/seed<N>)
and log (DIR/logs/...). Re-running the same command skips finished trials and resumes the rest
from their checkpoints. Every trial's flags are checked before the first one starts.
"""

import os
import signal
import sys

from tfprune_rl.console import quiet_startup

with quiet_startup():
    from absl import flags

    from tfprune_rl.entry_points import TRAINERS, Trainer, fail, run_app, run_flag_values
    from tfprune_rl.lazy import load
    from tfprune_rl.sweeps import (
        BACKENDS, LocalBackend, RayBackend, Trial, expand, is_finished, parse_grid, read_games,
        run_dir, run_sweep,
    )
    from tfprune_rl.lifecycle.run_dir import check_flags

PROGRAM = "tfprune-sweep"
FLAGS = flags.FLAGS
flags.DEFINE_string("root_dir", None, "Sweep directory: one run directory per trial, logs/.")
flags.DEFINE_enum("trainer", "value_based", list(TRAINERS), "value_based: tfprune-train "
                  "(DQN, C51, CQL; online or offline); continuous: tfprune-train-continuous "
                  "(BC, TD3+BC, SAC, CQL-SAC on D4RL-layout datasets).")
flags.DEFINE_multi_string("trainer_flagfile", [], "Trainer flagfile(s) every trial starts "
                          "from, in order (e.g. experiments/minatar/dqn.flags).")
flags.DEFINE_list("games", None, "Environment ids (MinAtar/Breakout-v1,MinAtar/Asterix-v1) "
                  "or files of them (experiments/minatar/games.txt).")
flags.DEFINE_multi_string("grid", [], "A trainer flag and its values, e.g. width=1,3,5; "
                          "repeat for more dimensions. One value fixes the flag for every trial.")
flags.DEFINE_integer("seeds", 5, "Seeds 0..N-1 per game and grid point. Paper: 5.")
flags.DEFINE_enum("backend", "local", BACKENDS, "local: processes on this machine; ray: tasks "
                  "on a Ray cluster (root_dir on storage every node shares).")
flags.DEFINE_integer("cpus_per_trial", 1, "CPUs (TensorFlow threads) per trial.")
flags.DEFINE_float("gpus_per_trial", 0, "GPUs per trial (Ray only).")
flags.DEFINE_integer("parallel", 0, "Trials at a time; 0: as many as the CPUs hold "
                     "(this machine's, or the Ray cluster's).")
flags.DEFINE_string("ray_address", "", "Ray cluster address (e.g. ray://head:10001 or auto); "
                    "empty starts a Ray instance on this machine.")
flags.DEFINE_float("progress_interval", 60, "Seconds between progress lines.")
flags.DEFINE_bool("dry_run", False, "List the trials and their state, and start none.")
flags.mark_flags_as_required(["root_dir", "games"])
SWEEP_FLAGS = ("root_dir", "trainer", "trainer_flagfile", "games", "grid", "seeds", "backend",
               "cpus_per_trial", "gpus_per_trial", "parallel", "ray_address",
               "progress_interval", "dry_run")


def check_trials(trainer: Trainer, trials: list[Trial], trainer_flagfiles: list[str],
                 root_dir: str) -> None:
    """Parses every trial's flags as the trainer will, checks that a trial directory already
    there holds the same run, and makes each game once."""
    for path in trainer_flagfiles:
        if not os.path.isfile(path):
            raise ValueError(f"trainer_flagfile {path} does not exist")
    for trial in trials:
        values = flags.FlagValues()
        names = trainer.define_flags(values)
        try:
            values([trainer.module, *trial.trainer_args(trainer_flagfiles, root_dir)])
            trainer.config_from_flags(values)
            check_flags(run_dir(root_dir, trial), run_flag_values(values, names))
        except (flags.Error, ValueError) as error:
            raise ValueError(f"trial {trial.run_id}: {error}") from None
    for env_id in dict.fromkeys(trial.env_id for trial in trials):
        load(trainer.make_env)(env_id).close()


def main(argv):
    if len(argv) > 1:
        fail(PROGRAM, f"unexpected arguments {argv[1:]}; all options are --flags")
    try:
        if FLAGS.cpus_per_trial < 1 or FLAGS.gpus_per_trial < 0 or FLAGS.parallel < 0:
            raise ValueError(f"cpus_per_trial={FLAGS.cpus_per_trial}, gpus_per_trial="
                             f"{FLAGS.gpus_per_trial}, parallel={FLAGS.parallel}: need "
                             "cpus >= 1, gpus >= 0, parallel >= 0")
        trials = expand(read_games(FLAGS.games), parse_grid(FLAGS.grid), FLAGS.seeds)
        check_trials(TRAINERS[FLAGS.trainer], trials, FLAGS.trainer_flagfile, FLAGS.root_dir)
    except ValueError as error:
        fail(PROGRAM, str(error))
    if FLAGS.dry_run:
        for trial in trials:
            state = "finished" if is_finished(FLAGS.root_dir, trial) else "to run"
            print(f"{state:8}  {trial.run_id}")
        return
    try:
        module = TRAINERS[FLAGS.trainer].module
        backend = (LocalBackend(module, FLAGS.cpus_per_trial) if FLAGS.backend == "local" else
                   RayBackend(module, FLAGS.ray_address, FLAGS.cpus_per_trial,
                              FLAGS.gpus_per_trial))
    except ValueError as error:
        fail(PROGRAM, str(error))
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop trials, as Ctrl-C does
    try:
        outcome = run_sweep(trials, FLAGS.trainer_flagfile, FLAGS.root_dir, backend,
                            FLAGS.parallel or backend.capacity, FLAGS.progress_interval,
                            log=lambda line: print(line, flush=True))
    except KeyboardInterrupt:
        sys.exit(f"{PROGRAM}: interrupted; running trials checkpointed the step they had "
                 "reached and stopped: re-run the same command to resume")
    finally:
        backend.close()
    if outcome.failed:
        fail(PROGRAM, f"{len(outcome.failed)} of {len(trials)} trials failed; logs: "
             + ", ".join(outcome.failed.values()))


def run():
    run_app(PROGRAM, main, SWEEP_FLAGS)


if __name__ == "__main__":
    run()
