"""A sweep's report with its figures: the same program as tfprune-plot (tfprune_rl/plot_cli.py)."""

from tfprune_rl.plot_cli import run

if __name__ == "__main__":
    run()
