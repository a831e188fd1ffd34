"""The value-based trainer (online and offline), its config and its learner. Each name is
imported from its module when first used (`tfprune_rl.lazy`)."""

from tfprune_rl.lazy import exports

__getattr__, _exported = exports(__name__, {
    "config": ("TrainConfig",),
    "trainer": ("OfflineTrainer", "OnlineTrainer", "value_based_trainer"),
})
__all__ = [*_exported, "train"]


def train(config, log=print) -> dict:
    """Trains a value-based run (online or offline) in `config.root_dir`, resuming."""
    from tfprune_rl.lifecycle.runner import run
    from tfprune_rl.value_based.trainer import value_based_trainer

    return run(value_based_trainer(config, log), log)
