"""Sparsity read from the kernels themselves, not from the masks."""

import dataclasses
from typing import Sequence

import numpy as np
import tensorflow as tf

from tfprune_rl.pruning.wrap import PruneLowMagnitude, strip


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
    """One entry per layer with a kernel; `target` is the final sparsity of its schedule."""
    stats = []
    for layer, inner in zip(layers, strip(layers)):
        if not hasattr(inner, "kernel"):
            continue
        kernel = inner.kernel.numpy()
        if isinstance(layer, PruneLowMagnitude):
            target = float(layer.pruning_schedule.final_sparsity)
            threshold = float(layer.pruning_vars[0][2].numpy())
        else:
            target, threshold = 0.0, None
        stats.append(
            KernelSparsity(inner.name, int(np.sum(kernel == 0)), kernel.size, target, threshold)
        )
    return stats


def total_sparsity(stats: Sequence[KernelSparsity]) -> float:
    return sum(s.zeros for s in stats) / sum(s.size for s in stats)
