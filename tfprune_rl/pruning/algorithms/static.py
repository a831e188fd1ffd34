"""`static`: a random mask at initialization, fixed for all of training (Graesser et al. 2022;
Ma et al. 2025 show such networks keep scaling). Each kernel keeps exactly
round(size * (1 - target)) weights, targets by the configured distribution (ERK or uniform)."""

import numpy as np

from tfprune_rl.pruning.updater import Updater


def random_mask(shape, target: float, rng: np.random.Generator) -> np.ndarray:
    size = int(np.prod(shape))
    mask = np.zeros(size, np.float32)
    mask[rng.permutation(size)[:max(round(size * (1.0 - target)), 1)]] = 1.0
    return mask.reshape(shape)


class Static(Updater):
    def initial_masks(self, kernels, loss, batches, source_masks):
        rng = np.random.default_rng([self.config.seed, 3])
        return [random_mask(k.kernel.shape, k.target, rng) for k in kernels]
