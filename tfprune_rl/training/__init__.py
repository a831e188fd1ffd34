"""Training: one runner for every trainer's lifecycle, the value-based and continuous
trainers, and what they own: config, evaluation, checkpoints. Each name is imported from its
module when first used (`tfprune_rl.lazy`)."""

from tfprune_rl.lazy import exports

__getattr__, _exported = exports(__name__, {
    "config": ("MODES", "TrainConfig"),
    "runner": ("run",),
    "value_based": ("ValueBasedTrainer",),
})
__all__ = [*_exported, "train"]


def train(config, log=print) -> dict:
    """Trains a value-based run (online or offline) in `config.root_dir`, resuming."""
    from tfprune_rl.training.runner import run
    from tfprune_rl.training.value_based import ValueBasedTrainer

    return run(ValueBasedTrainer(config, log), log)
