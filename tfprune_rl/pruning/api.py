"""The registry of sparse training methods: adding one is its module in `algorithms/` and one
line here (see README, "Adding a pruning method")."""

from tfprune_rl.pruning.algorithms.gmp import Gmp
from tfprune_rl.pruning.algorithms.lottery import Lottery
from tfprune_rl.pruning.algorithms.rigl import RigL
from tfprune_rl.pruning.algorithms.saliency import Grasp, Snip
from tfprune_rl.pruning.algorithms.set import Set
from tfprune_rl.pruning.algorithms.static import Static
from tfprune_rl.pruning.updater import PruningConfig, Updater

METHODS: dict[str, type[Updater]] = {
    "gmp": Gmp,
    "static": Static,
    "snip": Snip,
    "grasp": Grasp,
    "set": Set,
    "rigl": RigL,
    "lottery": Lottery,
}


def method(name: str) -> type[Updater]:
    if name not in METHODS:
        raise ValueError(f"unknown pruning method {name!r}; choose one of {', '.join(METHODS)}")
    return METHODS[name]


def check_pruning(config: PruningConfig, mask_from: str) -> None:
    """Refuses, before anything is written, a method this run cannot use: an unknown name, a
    schedule with no mask update in the run, or a lottery ticket without its source run."""
    chosen = method(config.method)
    if chosen.needs_source and not mask_from:
        raise ValueError(f"--pruning={config.method} needs --mask_from=RUN_DIR, a finished "
                         "pruned run of the same network")
    if mask_from and not chosen.needs_source:
        raise ValueError(f"mask_from={mask_from} is read by --pruning=lottery only; this run "
                         f"uses --pruning={config.method}")
    if config.sparsity > 0:
        chosen.schedule(config).update_steps(config.total_updates)


def create_updater(config: PruningConfig) -> Updater:
    return method(config.method)(config)
