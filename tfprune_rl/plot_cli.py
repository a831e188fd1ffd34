"""The report of a sweep with its figures: tfprune-plot --root_dir=DIR [--output_dir=DIR/report].

Writes what tfprune-aggregate writes, then iqm_vs_width.png, iqm_vs_sparsity.png (when the
sweep varies them), sample_efficiency.png, per_game_vs_width.png (when it varies width) and
diagnostics_<game>.png.
"""

from tfprune_rl.aggregate_cli import REPORT_FLAGS, build_report
from tfprune_rl.entry_points import fail, run_app

PROGRAM = "tfprune-plot"


def main(argv):
    if len(argv) > 1:
        fail(PROGRAM, f"unexpected arguments {argv[1:]}; all options are --flags")
    output_dir, results, runs, tables = build_report(PROGRAM)
    from tfprune_rl.analysis import draw_all  # matplotlib: imported with the report's modules

    print(tables, end="")
    for path in draw_all(results, runs, output_dir):
        print(f"wrote {path}")


def run():
    run_app(PROGRAM, main, REPORT_FLAGS)


if __name__ == "__main__":
    run()
