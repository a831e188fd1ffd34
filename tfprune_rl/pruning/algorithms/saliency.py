"""`snip` and `grasp`: single-shot pruning at initialization (the single-shot paper, Arnob et
al. 2021). Every kernel weight is scored once on `saliency_batches` batches (a fixed dataset, or
the replay buffer's first batches online), the global top fraction over the network's kernels
is kept, and the mask holds for all of training:
- `snip`: |g * w|, connection sensitivity (Lee et al. 2019);
- `grasp`: w * (H g) (Wang et al. 2020). GraSP's own score is S = -w * (H g), and GraSP removes
  the weights with the largest S (their removal reduces gradient flow least), so keeping the
  largest w * (H g) = -S is the same mask.

g is the loss gradient averaged over the batches; H g is the Hessian-vector product with that
averaged g, averaged over the same batches (as GraSP's reference code accumulates it). Ranking is
global over the network's kernels, so layers end up with different sparsities: every kernel is
wrapped, and the overall sparsity is exact within one weight.
"""

from typing import Callable, Sequence

import numpy as np
import tensorflow as tf

from tfprune_rl.pruning.updater import Loss, Updater, kernel_gradients, zeros_for_none


class Snip(Updater):
    reads_loss = True

    def layer_targets(self, shapes):
        return [self.config.sparsity] * len(shapes)

    def initial_masks(self, kernels, loss, batches, source_masks):
        kernels = [k.kernel for k in kernels]
        return global_masks(self.scores(kernels, loss, batches), self.config.sparsity)

    def scores(self, kernels, loss, batches) -> list[np.ndarray]:
        gradient = _mean_gradient(kernels, loss, batches)
        return [np.abs(g * k.numpy()) for g, k in zip(gradient, kernels)]


class Grasp(Snip):
    def scores(self, kernels, loss, batches):
        fixed = [tf.constant(g) for g in _mean_gradient(kernels, loss, batches)]
        hessian_gradient = _mean_over(
            batches, lambda batch: _hessian_vector_product(kernels, loss, batch, fixed))
        return [k.numpy() * hg for k, hg in zip(kernels, hessian_gradient)]


def _mean_gradient(kernels, loss: Loss, batches: Sequence) -> list[np.ndarray]:
    if not batches:
        raise ValueError("single-shot pruning needs at least one batch to score on")
    return _mean_over(batches, lambda batch: kernel_gradients(kernels, loss, batch))


def _mean_over(batches: Sequence, per_batch: Callable) -> list[np.ndarray]:
    total = None
    for batch in batches:
        values = [v.numpy() for v in per_batch(batch)]
        total = values if total is None else [t + v for t, v in zip(total, values)]
    return [t / len(batches) for t in total]


def _hessian_vector_product(kernels, loss, batch, vector) -> list[tf.Tensor]:
    """H v as the gradient of (g . v) with v held fixed: two nested tapes, no Hessian formed."""
    with tf.GradientTape() as outer:
        gradient = kernel_gradients(kernels, loss, batch)
        dot = tf.add_n([tf.reduce_sum(g * v) for g, v in zip(gradient, vector)])
    return zeros_for_none(outer.gradient(dot, kernels), kernels)


def global_masks(scores: Sequence[np.ndarray], sparsity: float) -> list[np.ndarray]:
    """Keeps exactly round(n * (1 - sparsity)) weights of all n: the highest scores over every
    kernel together (ties go to the earlier weight), at least one."""
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity={sparsity} must be in [0, 1)")
    flat = np.concatenate([s.ravel() for s in scores]).astype(np.float64)
    keep = max(int(round(flat.size * (1.0 - sparsity))), 1)
    kept = np.zeros(flat.size, dtype=bool)
    kept[np.argsort(-flat, kind="stable")[:keep]] = True
    masks, start = [], 0
    for s in scores:
        masks.append(kept[start:start + s.size].reshape(s.shape).astype(np.float32))
        start += s.size
    return masks
