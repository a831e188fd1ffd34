"""Single-shot pruning at initialization: score every kernel weight once, on batches of a fixed
dataset, keep the global top fraction, and hold that mask for all of training.

Scores (higher = keep):
- `snip`: |g * w|, connection sensitivity (Lee et al. 2019);
- `grasp`: w * (H g) (Wang et al. 2020). GraSP's own score is S = -w * (H g), and GraSP removes
  the weights with the largest S (their removal reduces gradient flow least), so keeping the
  largest w * (H g) = -S is the same mask;
- `random`: uniform noise, a baseline;
- `magnitude`: |w| at initialization, a baseline.

g is the loss gradient averaged over the batches; H g is the Hessian-vector product with that
averaged g, averaged over the same batches (as GraSP's reference code accumulates it). Ranking is
global over all given kernels, so layers end up with different sparsities.
"""

from typing import Callable, Sequence

import numpy as np
import tensorflow as tf
import tensorflow_model_optimization as tfmot
from tensorflow_model_optimization.python.core.sparsity.keras.pruning_wrapper import (
    PruneLowMagnitude,
)

SALIENCY_METHODS = ("snip", "grasp", "random", "magnitude")

Loss = Callable[[object], tf.Tensor]  # a batch -> a scalar loss of the kernels' network


class FixedMask(tfmot.sparsity.keras.PruningSchedule):
    """A schedule that never prunes: the wrapper keeps the mask installed at initialization.
    `final_sparsity` is the kernel's sparsity under that mask, for reporting."""

    def __init__(self, final_sparsity: float):
        self.final_sparsity = float(final_sparsity)

    def __call__(self, step):
        return tf.constant(False), tf.constant(self.final_sparsity, tf.float32)

    def get_config(self):
        return {"class_name": self.__class__.__name__,
                "config": {"final_sparsity": self.final_sparsity}}


def wrap_fixed(layers: Sequence[tf.keras.layers.Layer]) -> list[tf.keras.layers.Layer]:
    """Wraps every layer with a kernel, with an all-ones mask until `install_masks`."""
    return [tfmot.sparsity.keras.prune_low_magnitude(layer, pruning_schedule=FixedMask(0.0))
            if hasattr(layer, "kernel") else layer for layer in layers]


def saliency_scores(
    method: str, kernels: Sequence[tf.Variable], loss: Loss, batches: Sequence, seed: int = 0,
) -> list[np.ndarray]:
    """One score array per kernel, shaped like it. Reads the kernels, never assigns them."""
    if method not in SALIENCY_METHODS:
        raise ValueError(f"unknown saliency method {method!r}; choose one of {', '.join(SALIENCY_METHODS)}")
    weights = [k.numpy() for k in kernels]
    if method == "magnitude":
        return [np.abs(w) for w in weights]
    if method == "random":
        rng = np.random.default_rng(seed)
        return [rng.random(w.shape) for w in weights]
    if not batches:
        raise ValueError(f"{method} needs at least one batch of the dataset")
    gradient = _mean_over(batches, lambda batch: _gradient(kernels, loss, batch))
    if method == "snip":
        return [np.abs(g * w) for g, w in zip(gradient, weights)]
    fixed = [tf.constant(g) for g in gradient]
    hessian_gradient = _mean_over(
        batches, lambda batch: _hessian_vector_product(kernels, loss, batch, fixed))
    return [w * hg for w, hg in zip(weights, hessian_gradient)]


def _mean_over(batches: Sequence, per_batch: Callable) -> list[np.ndarray]:
    total = None
    for batch in batches:
        values = [v.numpy() for v in per_batch(batch)]
        total = values if total is None else [t + v for t, v in zip(total, values)]
    return [t / len(batches) for t in total]


def _gradient(kernels, loss, batch) -> list[tf.Tensor]:
    with tf.GradientTape() as tape:
        value = loss(batch)
    return _dense(tape.gradient(value, kernels), kernels)


def _hessian_vector_product(kernels, loss, batch, vector) -> list[tf.Tensor]:
    """H v as the gradient of (g . v) with v held fixed: two nested tapes, no Hessian formed."""
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            value = loss(batch)
        gradient = _dense(inner.gradient(value, kernels), kernels)
        dot = tf.add_n([tf.reduce_sum(g * v) for g, v in zip(gradient, vector)])
    return _dense(outer.gradient(dot, kernels), kernels)


def _dense(gradients, kernels) -> list[tf.Tensor]:
    """A kernel the loss does not reach has gradient zero, not None."""
    return [tf.zeros_like(k) if g is None else tf.convert_to_tensor(g)
            for g, k in zip(gradients, kernels)]


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


def install_masks(wrappers: Sequence[PruneLowMagnitude], masks: Sequence[np.ndarray]) -> None:
    """Sets each wrapper's mask (held by its FixedMask schedule) and zeroes what it prunes."""
    for wrapper, mask in zip(wrappers, masks, strict=True):
        kernel, mask_variable, threshold = wrapper.pruning_vars[0]
        mask_variable.assign(mask)
        kernel.assign(kernel * mask)
        threshold.assign(0.0)
        wrapper.pruning_schedule.final_sparsity = float(1.0 - mask.mean())
