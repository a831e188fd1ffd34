"""Aggregate a sweep: tfprune-aggregate --root_dir=DIR [--output_dir=DIR/report].

Reads every finished run under root_dir, normalizes final scores (Atari: human-normalized;
MinAtar and others: see tfprune_rl/analysis/reference_scores.py) and writes IQM, mean, median
and optimality gap per configuration with 95% stratified bootstrap CIs (rliable), and the IQM
over training averaged over its second half, as aggregate.json, aggregate.csv and aggregate.md;
prints the Markdown tables.
"""

import os

from absl import flags, logging

from tfprune_rl.console import quiet_startup
from tfprune_rl.entry_points import fail, run_app

PROGRAM = "tfprune-aggregate"
FLAGS = flags.FLAGS
flags.DEFINE_string("root_dir", None, "A sweep's directory, or any directory of trainer runs.")
flags.DEFINE_string("output_dir", None, "Where the files go (default: ROOT_DIR/report).")
flags.DEFINE_integer("reps", 50_000, "Bootstrap resamples (rliable's default: 50,000).")
flags.DEFINE_integer("bootstrap_seed", 0, "Seeds the bootstrap, so the same runs give the "
                     "same intervals.")
flags.DEFINE_list("games", [], "Env ids to report on (default: every game under root_dir).")
flags.mark_flag_as_required("root_dir")
REPORT_FLAGS = ("root_dir", "output_dir", "reps", "bootstrap_seed", "games")


def build_report(program: str):
    """The report of --root_dir in --output_dir: (output_dir, results, runs, Markdown tables);
    fails in one line on unusable input."""
    logging.set_verbosity(logging.WARNING)  # rliable logs a line per configuration
    if FLAGS.reps < 1:
        fail(program, f"reps={FLAGS.reps} must be at least 1")
    if not os.path.isdir(FLAGS.root_dir):
        fail(program, f"root_dir {FLAGS.root_dir} is not a directory; pass a sweep's directory")
    output_dir = FLAGS.output_dir or os.path.join(FLAGS.root_dir, "report")
    with quiet_startup():  # pandas, rliable: after the flags are checked
        from tfprune_rl.analysis import report
    try:
        return output_dir, *report(FLAGS.root_dir, output_dir, FLAGS.reps, FLAGS.bootstrap_seed,
                                   FLAGS.games)
    except (ValueError, OSError) as error:
        fail(program, str(error))


def main(argv):
    if len(argv) > 1:
        fail(PROGRAM, f"unexpected arguments {argv[1:]}; all options are --flags")
    output_dir, _, _, tables = build_report(PROGRAM)
    print(tables, end="")
    print(f"wrote aggregate.json, aggregate.csv and aggregate.md to {output_dir}")


def run():
    run_app(PROGRAM, main, REPORT_FLAGS)


if __name__ == "__main__":
    run()
