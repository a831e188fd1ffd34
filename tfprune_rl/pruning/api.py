"""The registry of sparse training methods: adding one is its module in `algorithms/` and one
entry here (see README, "Adding a pruning method").

An entry names its updater class, imported only when a run is built, and says what a run's
flags are checked against before that (before TensorFlow is imported): when the method's masks
change, and whether it trains a finished run's masks.
"""

import dataclasses
from typing import Callable

from tfprune_rl.lazy import load
from tfprune_rl.pruning.schedule import NoUpdates, Periodic


def _gradual(config):
    return config.schedule


def _periodic(config) -> Periodic:
    return Periodic(config.schedule.frequency, config.regrow_end, config.drop_fraction)


@dataclasses.dataclass(frozen=True)
class Method:
    updater: str | type  # an `Updater` subclass, or its "module:Class"
    schedule: Callable[[object], object] = lambda config: NoUpdates()
    needs_source: bool = False  # its initial masks are a finished run's (--mask_from)


METHODS: dict[str, Method] = {
    "gmp": Method("tfprune_rl.pruning.algorithms.gmp:Gmp", _gradual),
    "static": Method("tfprune_rl.pruning.algorithms.static:Static"),
    "snip": Method("tfprune_rl.pruning.algorithms.saliency:Snip"),
    "grasp": Method("tfprune_rl.pruning.algorithms.saliency:Grasp"),
    "set": Method("tfprune_rl.pruning.algorithms.set:Set", _periodic),
    "rigl": Method("tfprune_rl.pruning.algorithms.rigl:RigL", _periodic),
    "lottery": Method("tfprune_rl.pruning.algorithms.lottery:Lottery", needs_source=True),
}


def method(name: str) -> Method:
    if name not in METHODS:
        raise ValueError(f"unknown pruning method {name!r}; choose one of {', '.join(METHODS)}")
    return METHODS[name]


def check_pruning(config) -> None:
    """Refuses, before anything is written, a method this run cannot use: an unknown name, a
    schedule with no mask update in the run, or a lottery ticket without its source run."""
    chosen = method(config.method)
    if chosen.needs_source and not config.mask_from:
        raise ValueError(f"--pruning={config.method} needs --mask_from=RUN_DIR, a finished "
                         "pruned run of the same network")
    if config.mask_from and not chosen.needs_source:
        raise ValueError(f"mask_from={config.mask_from} is read by --pruning=lottery only; this run "
                         f"uses --pruning={config.method}")
    if config.sparsity > 0:
        chosen.schedule(config).update_steps(config.total_updates)


def create_updater(config):
    """The method's `Updater` for `config`, with the schedule its entry gives."""
    chosen = method(config.method)
    updater = load(chosen.updater) if isinstance(chosen.updater, str) else chosen.updater
    return updater(config, chosen.schedule(config))
