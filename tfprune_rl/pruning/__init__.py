"""Sparse training on TF-MOT wrappers: one updater interface, a registry of methods, schedules,
distributions, and an optimizer that keeps pruned weights at zero; depends on nothing else in
the package."""

from tfprune_rl.pruning.api import METHODS, check_pruning, create_updater
from tfprune_rl.pruning.distribution import DISTRIBUTIONS, layer_sparsities
from tfprune_rl.pruning.optimizer import MaskedAdam
from tfprune_rl.pruning.schedule import NoUpdates, OneShot, Periodic, PolynomialSchedule
from tfprune_rl.pruning.select import keep_largest
from tfprune_rl.pruning.stats import KernelSparsity, kernel_sparsity, total_sparsity
from tfprune_rl.pruning.summaries import write_sparsity_summaries
from tfprune_rl.pruning.updater import PruningConfig, Updater
from tfprune_rl.pruning.wrap import (
    FixedSparsity,
    MaskedKernel,
    PruneLowMagnitude,
    apply_masks,
    kernel_mask,
    masked_kernels,
    pruning_wrappers,
    strip,
)

__all__ = [
    "DISTRIBUTIONS",
    "FixedSparsity",
    "KernelSparsity",
    "METHODS",
    "MaskedAdam",
    "MaskedKernel",
    "NoUpdates",
    "OneShot",
    "Periodic",
    "PolynomialSchedule",
    "PruneLowMagnitude",
    "PruningConfig",
    "Updater",
    "apply_masks",
    "check_pruning",
    "create_updater",
    "keep_largest",
    "kernel_mask",
    "kernel_sparsity",
    "layer_sparsities",
    "masked_kernels",
    "pruning_wrappers",
    "strip",
    "total_sparsity",
    "write_sparsity_summaries",
]
