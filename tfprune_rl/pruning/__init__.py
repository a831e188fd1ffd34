"""Pruning on TF-MOT wrappers: schedules, distributions, masks, and an optimizer that keeps pruned
weights at zero; depends on nothing else in the package."""

from tfprune_rl.pruning.distribution import DISTRIBUTIONS, layer_sparsities
from tfprune_rl.pruning.optimizer import MaskedAdam
from tfprune_rl.pruning.schedule import GradualSchedule
from tfprune_rl.pruning.stats import KernelSparsity, kernel_sparsity, total_sparsity
from tfprune_rl.pruning.summaries import write_sparsity_summaries
from tfprune_rl.pruning.wrap import (
    PruneLowMagnitude,
    PruningConfig,
    apply_masks,
    kernel_mask,
    masked_kernels,
    pruning_wrappers,
    strip,
    update_masks,
)

__all__ = [
    "DISTRIBUTIONS",
    "GradualSchedule",
    "KernelSparsity",
    "MaskedAdam",
    "PruneLowMagnitude",
    "PruningConfig",
    "apply_masks",
    "kernel_mask",
    "kernel_sparsity",
    "layer_sparsities",
    "masked_kernels",
    "pruning_wrappers",
    "strip",
    "total_sparsity",
    "update_masks",
    "write_sparsity_summaries",
]
