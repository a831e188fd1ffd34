"""Sparse training on TF-MOT wrappers: one updater interface, a registry of methods, schedules,
distributions, and an optimizer that keeps pruned weights at zero; depends on nothing else in
the package but `tfprune_rl.lazy`: each name is imported from its module when first used."""

from tfprune_rl.lazy import exports

__getattr__, __all__ = exports(__name__, {
    "api": ("METHODS", "Method", "check_pruning", "create_updater"),
    "config": ("PruningConfig",),
    "distribution": ("DISTRIBUTIONS", "layer_sparsities"),
    "optimizer": ("MaskedAdam",),
    "schedule": ("NoUpdates", "OneShot", "Periodic", "PolynomialSchedule"),
    "select": ("keep_largest",),
    "stats": ("KernelSparsity", "kernel_sparsity", "total_sparsity"),
    "updater": ("Updater",),
    "wrap": ("FixedSparsity", "MaskedKernel", "PruneLowMagnitude", "apply_masks", "kernel_mask",
             "masked_kernels", "pruning_wrappers", "strip"),
})
