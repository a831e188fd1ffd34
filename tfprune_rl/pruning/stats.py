"""Sparsity read from the kernels themselves, not from the masks."""

import dataclasses
from typing import Sequence

import numpy as np
import tensorflow as tf

from tfprune_rl.pruning.wrap import masked_kernels, strip


@dataclasses.dataclass(frozen=True)
class KernelSparsity:
    name: str
    zeros: int
    size: int
    target: float
    threshold: float | None

    @property
    def sparsity(self) -> float:
        return self.zeros / self.size


def kernel_sparsity(layers: Sequence[tf.keras.layers.Layer]) -> list[KernelSparsity]:
    """One entry per layer with a kernel; `target` is its final sparsity, `threshold` the smallest
    magnitude kept at its last mask change."""
    stats = []
    for layer, inner in zip(layers, strip(layers)):
        if not hasattr(inner, "kernel"):
            continue
        kernel = inner.kernel.numpy()
        target, threshold = 0.0, None
        for masked in masked_kernels([layer]):
            target, threshold = masked.target, float(masked.threshold.numpy())
        stats.append(
            KernelSparsity(inner.name, int(np.sum(kernel == 0)), kernel.size, target, threshold)
        )
    return stats


def total_sparsity(stats: Sequence[KernelSparsity]) -> float:
    return sum(s.zeros for s in stats) / sum(s.size for s in stats)
