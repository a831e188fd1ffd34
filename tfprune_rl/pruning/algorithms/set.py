"""`set`: Sparse Evolutionary Training (Mocanu et al. 2018). Starts from a `static` random mask;
every `frequency` updates until `regrow_end`, each kernel drops the smallest-magnitude fraction
of its kept weights and regrows as many at random among the weights it pruned before, new
weights at 0. The fraction decays by RigL's cosine (`Periodic`), as Graesser et al. 2022 run
SET in RL. A grown weight is 0 and, never having had a gradient, has zero Adam moments."""

import tensorflow as tf

from tfprune_rl.pruning.algorithms.static import Static
from tfprune_rl.pruning.select import keep_largest


class Set(Static):
    def grow_scores(self, kernels, gradients) -> list[tf.Tensor]:
        return [self.rng.uniform(k.kernel.shape) for k in kernels]

    def new_masks(self, kernels, step, gradients):
        fraction = self.schedule.drop_fraction_at(step, self.config.total_updates)
        masks = []
        for k, grow in zip(kernels, self.grow_scores(kernels, gradients)):
            kept = k.mask > 0
            n_kept = tf.reduce_sum(tf.cast(kept, tf.float32))
            moved = tf.minimum(tf.round(fraction * n_kept), k.kernel.shape.num_elements() - n_kept)
            survivors = keep_largest(tf.abs(k.kernel), kept, n_kept - moved)
            grown = keep_largest(grow, ~kept, moved)
            masks.append(survivors + grown)
        return masks
