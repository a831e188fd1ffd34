"""Sweeps over games, grid values and seeds, on local processes or a Ray cluster."""

from tfprune_rl.sweeps.backends import LocalBackend, RayBackend
from tfprune_rl.sweeps.grid import Trial, expand, parse_grid, read_games
from tfprune_rl.sweeps.runner import SweepOutcome, is_finished, log_path, run_dir, run_sweep

BACKENDS = ("local", "ray")

__all__ = [
    "BACKENDS", "LocalBackend", "RayBackend", "SweepOutcome", "Trial", "expand", "is_finished",
    "log_path", "parse_grid", "read_games", "run_dir", "run_sweep",
]
