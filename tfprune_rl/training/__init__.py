"""The training loop and what it owns: config, evaluation, checkpoints."""

from tfprune_rl.training.config import MODES, TrainConfig
from tfprune_rl.training.loop import train

__all__ = ["MODES", "TrainConfig", "train"]
