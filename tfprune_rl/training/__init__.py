"""Training: one runner for every trainer's lifecycle, the value-based and continuous
trainers, and what they own: config, evaluation, checkpoints."""

from tfprune_rl.training.config import MODES, TrainConfig
from tfprune_rl.training.runner import run
from tfprune_rl.training.value_based import ValueBasedTrainer


def train(config: TrainConfig, log=print) -> dict:
    """Trains a value-based run (online or offline) in `config.root_dir`, resuming."""
    return run(ValueBasedTrainer(config, log), log)


__all__ = ["MODES", "TrainConfig", "ValueBasedTrainer", "run", "train"]
