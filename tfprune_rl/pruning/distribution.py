"""How a target sparsity is shared out among the kernels of a network.

`uniform` prunes every kernel to the target. `erk` (Erdos-Renyi-Kernel, Evci et al. 2020, as
in RigL and JaxPruner) gives each kernel a density proportional to sum(shape) / prod(shape),
so small layers stay denser; a layer whose density would exceed 1 is kept dense and the rest
are rescaled. Both keep the overall sparsity over all kernels equal to the target.
"""

from typing import Sequence

import numpy as np

DISTRIBUTIONS = ("uniform", "erk")


def layer_sparsities(
    kernel_shapes: Sequence[Sequence[int]], sparsity: float, distribution: str
) -> list[float]:
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity={sparsity} must be in [0, 1)")
    if distribution == "uniform":
        return [sparsity] * len(kernel_shapes)
    if distribution == "erk":
        return _erk(kernel_shapes, sparsity)
    raise ValueError(f"unknown sparsity distribution {distribution!r}; choose one of {DISTRIBUTIONS}")


def _erk(kernel_shapes: Sequence[Sequence[int]], sparsity: float) -> list[float]:
    if sparsity == 0.0:
        return [0.0] * len(kernel_shapes)
    sizes = np.array([np.prod(shape) for shape in kernel_shapes], dtype=np.float64)
    raw_density = np.array([np.sum(shape) / np.prod(shape) for shape in kernel_shapes])
    dense = np.zeros(len(sizes), dtype=bool)
    while True:
        kept_budget = (1.0 - sparsity) * sizes.sum() - sizes[dense].sum()
        scale = kept_budget / np.sum(raw_density[~dense] * sizes[~dense])
        density = np.where(dense, 1.0, scale * raw_density)
        if density.max() <= 1.0 + 1e-12:
            return [float(1.0 - d) for d in density]
        dense |= density > 1.0
