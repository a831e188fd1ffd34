"""Aggregate a sweep's runs: the same program as tfprune-aggregate
(tfprune_rl/aggregate_cli.py)."""

from tfprune_rl.aggregate_cli import run

if __name__ == "__main__":
    run()
