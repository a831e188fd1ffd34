"""Wrapping a network's layers in TF-MOT pruning wrappers, and driving their masks.

A wrapper advances its own step on every call with training=True, so the schedule would count
forward passes, not gradient updates, and re-masks its kernel on every call. Networks here run
the layers inside the wrappers, and the training step calls `update_masks` once per gradient
update with the agent's update counter: the only place masks change and kernels are re-masked.
Masks follow the wrapper's TF-MOT schedule; they are computed here (see `_prune`), not by
TF-MOT's own update, which can revive pruned weights.
"""

import dataclasses
from typing import Sequence

import tensorflow as tf
import tensorflow_model_optimization as tfmot
from tensorflow_model_optimization.python.core.sparsity.keras.pruning_wrapper import (
    PruneLowMagnitude,
)

from tfprune_rl.pruning.distribution import layer_sparsities
from tfprune_rl.pruning.schedule import GradualSchedule


@dataclasses.dataclass(frozen=True)
class PruningConfig:
    """Target sparsity, how it is shared among kernels, and when it is reached."""

    sparsity: float
    total_updates: int
    distribution: str = "erk"
    schedule: GradualSchedule = GradualSchedule()

    def wrap(self, layers: Sequence[tf.keras.layers.Layer]) -> list[tf.keras.layers.Layer]:
        """Wraps each built layer whose kernel gets a sparsity > 0; the others stay plain."""
        kernel_layers = [layer for layer in layers if hasattr(layer, "kernel")]
        targets = layer_sparsities(
            [layer.kernel.shape for layer in kernel_layers], self.sparsity, self.distribution
        )
        target_by_layer = {id(layer): target for layer, target in zip(kernel_layers, targets)}
        wrapped = []
        for layer in layers:
            target = target_by_layer.get(id(layer), 0.0)
            if target > 0.0:
                schedule = self.schedule.polynomial_decay(target, self.total_updates)
                layer = tfmot.sparsity.keras.prune_low_magnitude(layer, pruning_schedule=schedule)
            wrapped.append(layer)
        return wrapped


def pruning_wrappers(layers: Sequence[tf.keras.layers.Layer]) -> list[PruneLowMagnitude]:
    return [layer for layer in layers if isinstance(layer, PruneLowMagnitude)]


def update_masks(wrappers: Sequence[PruneLowMagnitude], step: tf.Tensor) -> None:
    """Moves every wrapper to schedule step `step`, recomputes masks where due, re-masks."""
    for wrapper in wrappers:
        wrapper.pruning_step.assign(tf.cast(step, tf.int64))
        due, sparsity = wrapper.pruning_schedule(wrapper.pruning_step)
        kernel, mask, threshold = wrapper.pruning_vars[0]
        tf.cond(due, lambda: _prune(kernel, mask, threshold, sparsity), tf.no_op)
    apply_masks(wrappers)


def _prune(kernel: tf.Variable, mask: tf.Variable, threshold: tf.Variable, sparsity) -> tf.Operation:
    """Keeps the round(size * (1 - sparsity)) largest-magnitude weights among those the mask
    keeps now, exactly that many.

    TF-MOT keeps every weight with |w| >= the k-th largest |w|: when more than the pruned
    fraction of a kernel is exactly zero (ReDo zeroes outgoing weights), that threshold is 0
    and its mask keeps everything, reviving every pruned weight. Here a pruned weight ranks
    below every kept one, so under a rising sparsity schedule no pruned weight ever returns.
    """
    size = kernel.shape.num_elements()
    keep = tf.maximum(tf.cast(tf.round(size * (1.0 - sparsity)), tf.int32), 1)
    magnitude = tf.reshape(tf.abs(kernel), [-1])
    score = tf.where(tf.reshape(mask, [-1]) > 0, magnitude, -1.0)
    # Ranks from two full top_k's (the second inverts the permutation), and tf.gather for the
    # k-th value: indexing it with a tensor (values[keep - 1]) made each XLA step take 0.7 s.
    ranked = tf.math.top_k(score, k=size)
    rank = tf.math.top_k(-ranked.indices, k=size).indices
    return tf.group(
        mask.assign(tf.reshape(tf.cast(rank < keep, mask.dtype), mask.shape)),
        threshold.assign(tf.maximum(tf.gather(ranked.values, keep - 1), 0.0)),
    )


def kernel_mask(layer: tf.keras.layers.Layer) -> tf.Variable | None:
    """The mask of a wrapped layer's kernel; None for a plain layer."""
    return layer.pruning_vars[0][1] if isinstance(layer, PruneLowMagnitude) else None


def apply_masks(wrappers: Sequence[PruneLowMagnitude]) -> None:
    """Zeroes pruned kernel entries, which the optimizer moves after the forward pass."""
    for wrapper in wrappers:
        kernel, mask, _ = wrapper.pruning_vars[0]
        kernel.assign(kernel * mask)


def strip(layers: Sequence[tf.keras.layers.Layer]) -> list[tf.keras.layers.Layer]:
    """The layers inside the wrappers; call `apply_masks` first so their kernels are sparse."""
    return [layer.layer if isinstance(layer, PruneLowMagnitude) else layer for layer in layers]
