"""`gmp`: gradual magnitude pruning (Zhu & Gupta 2017), the paper's method.

Sparsity follows TF-MOT's `PolynomialDecay` (20% to 80% of updates, power 3, every 1,000); at
each step the largest-magnitude weights among those kept so far stay, exactly
round(size * (1 - sparsity)) of them. TF-MOT's own update keeps every |w| >= the k-th largest:
when more than the pruned fraction is exactly zero (ReDo zeroes outgoing weights) that
threshold is 0 and every pruned weight revives. Here a pruned weight never returns.
"""

import tensorflow as tf

from tfprune_rl.pruning.select import keep_largest
from tfprune_rl.pruning.updater import Updater


class Gmp(Updater):
    def wrapper_schedule(self, target):
        return self.config.schedule.polynomial_decay(target, self.config.total_updates)

    def new_masks(self, kernels, step, gradients):
        masks = []
        for k in kernels:
            _, sparsity = k.schedule(tf.cast(step, tf.int64))
            size = k.kernel.shape.num_elements()
            keep = tf.maximum(tf.round(size * (1.0 - sparsity)), 1.0)
            masks.append(keep_largest(tf.abs(k.kernel), k.mask > 0, keep))
        return masks
