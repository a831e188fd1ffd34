"""`rigl`: Rigged Lottery (Evci et al. 2020). SET, but regrowing the pruned weights whose dense
gradient on a training batch is largest in magnitude (drop 0.3 with cosine decay, every 1,000
updates, stopping at 75% of training: Graesser et al.'s RL settings)."""

import tensorflow as tf

from tfprune_rl.pruning.algorithms.set import Set


class RigL(Set):
    reads_loss = True

    def grow_scores(self, kernels, gradients):
        return [tf.abs(g) for g in gradients]
