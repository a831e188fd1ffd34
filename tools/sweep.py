"""Run a sweep over games, grid values and seeds: the same program as tfprune-sweep
(tfprune_rl/sweep_cli.py)."""

from tfprune_rl.sweep_cli import run

if __name__ == "__main__":
    run()
