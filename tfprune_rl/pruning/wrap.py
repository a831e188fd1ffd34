"""Wrapping a network's layers in TF-MOT pruning wrappers, and driving their masks.

A wrapper advances its own step on every call with training=True, so the schedule would count
forward passes, not gradient updates, and re-masks its kernel on every call. Networks here run
the layers inside the wrappers. Pruned weights stay exactly zero between mask updates because
the optimizer (`MaskedAdam`) masks gradients, so no step re-masks; after the updates at which
the schedule is due (`PruningConfig.mask_update_steps`, counted in gradient updates), training
calls `update_masks`: the only place masks change. Masks follow the wrapper's TF-MOT schedule; they are computed here
(see `_prune`), not by TF-MOT's own update, which can revive pruned weights.
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

    def mask_update_steps(self) -> range:
        """The gradient updates after which masks are recomputed (TF-MOT's `PolynomialDecay`
        prunes at begin + k * frequency up to end)."""
        begin, end = self.schedule.update_steps(self.total_updates)
        return range(begin, end + 1, self.schedule.frequency)

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


def update_masks(wrappers: Sequence[PruneLowMagnitude], step) -> None:
    """Moves every wrapper to schedule step `step`, recomputes masks where due, re-masks.

    Training calls it (XLA-compiled) only after the updates at which a mask update is due
    (`PruningConfig.mask_update_steps`).
    """
    for wrapper in wrappers:
        wrapper.pruning_step.assign(tf.cast(step, tf.int64))
        due, sparsity = wrapper.pruning_schedule(wrapper.pruning_step)
        kernel, mask, threshold = wrapper.pruning_vars[0]
        tf.cond(due, lambda: _prune(kernel, mask, threshold, sparsity), tf.no_op)
    apply_masks(wrappers)


def _prune(kernel: tf.Variable, mask: tf.Variable, threshold: tf.Variable, sparsity) -> tf.Operation:
    """Keeps the round(size * (1 - sparsity)) largest-magnitude weights among those the mask
    keeps now, exactly that many (ties go to the lower index).

    TF-MOT keeps every weight with |w| >= the k-th largest |w|: when more than the pruned
    fraction of a kernel is exactly zero (ReDo zeroes outgoing weights), that threshold is 0
    and its mask keeps everything, reviving every pruned weight. Here a pruned weight ranks
    below every kept one, so under a rising sparsity schedule no pruned weight ever returns.

    The k-th largest magnitude is found by bisection on its float32 bits (non-negative floats
    order as their bit patterns): 31 counting passes, no sort. Measured on this 2-core CPU:
    2.2 ms for a 131k-weight kernel, 16 ms for 1.6M, 179 ms for 14.4M, against 46 ms, 599 ms
    and several seconds with the two full `top_k`s this replaced.
    """
    size = kernel.shape.num_elements()
    keep = tf.maximum(tf.cast(tf.round(size * (1.0 - sparsity)), tf.int32), 1)
    kept_now = tf.reshape(mask, [-1]) > 0
    magnitude = tf.abs(tf.reshape(kernel, [-1]))
    bits = tf.bitcast(tf.where(kept_now, magnitude, 0.0), tf.int32)
    bits = tf.where(kept_now, bits, -1)  # a pruned weight is below every kept one, zeros included

    def bisect(low, high):  # invariant: at least `keep` weights have bits >= low
        middle = low + (high - low + 1) // 2
        enough = tf.reduce_sum(tf.cast(bits >= middle, tf.int32)) >= keep
        return tf.where(enough, middle, low), tf.where(enough, high, middle - 1)

    kth, _ = tf.while_loop(lambda low, high: low < high, bisect,
                           (tf.constant(0, tf.int32), tf.constant(0x7F800000, tf.int32)),
                           maximum_iterations=32)
    above = bits > kth
    tied = tf.equal(bits, kth)
    room = keep - tf.reduce_sum(tf.cast(above, tf.int32))
    new_mask = above | (tied & (tf.cumsum(tf.cast(tied, tf.int32)) <= room))
    return tf.group(
        mask.assign(tf.reshape(tf.cast(new_mask, mask.dtype), mask.shape)),
        threshold.assign(tf.bitcast(kth, tf.float32)),
    )


def kernel_mask(layer: tf.keras.layers.Layer) -> tf.Variable | None:
    """The mask of a wrapped layer's kernel; None for a plain layer."""
    return layer.pruning_vars[0][1] if isinstance(layer, PruneLowMagnitude) else None


def masked_kernels(layers: Sequence[tf.keras.layers.Layer]) -> list[tuple[tf.Variable, tf.Variable]]:
    """(kernel, mask) of every wrapped layer, in order."""
    return [wrapper.pruning_vars[0][:2] for wrapper in pruning_wrappers(layers)]


def apply_masks(wrappers: Sequence[PruneLowMagnitude]) -> None:
    """Zeroes pruned kernel entries, which the optimizer moves after the forward pass."""
    for wrapper in wrappers:
        kernel, mask, _ = wrapper.pruning_vars[0]
        kernel.assign(kernel * mask)


def strip(layers: Sequence[tf.keras.layers.Layer]) -> list[tf.keras.layers.Layer]:
    """The layers inside the wrappers; call `apply_masks` first so their kernels are sparse."""
    return [layer.layer if isinstance(layer, PruneLowMagnitude) else layer for layer in layers]
