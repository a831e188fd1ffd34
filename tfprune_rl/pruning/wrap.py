"""Wrapping a network's layers in TF-MOT pruning wrappers, and driving their masks.

A wrapper advances its own step on every call with training=True, so the schedule would count
forward passes, not gradient updates, and re-masks its kernel on every call. Networks here run
the layers inside the wrappers, and the training step calls `update_masks` once per gradient
update with the agent's update counter: the only place masks change and kernels are re-masked.
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
        wrapper.pruning_obj.conditional_mask_update()
        wrapper.pruning_obj.weight_mask_op()


def apply_masks(wrappers: Sequence[PruneLowMagnitude]) -> None:
    """Zeroes pruned kernel entries, which the optimizer moves after the forward pass."""
    for wrapper in wrappers:
        wrapper.pruning_obj.weight_mask_op()


def strip(layers: Sequence[tf.keras.layers.Layer]) -> list[tf.keras.layers.Layer]:
    """The layers inside the wrappers; call `apply_masks` first so their kernels are sparse."""
    return [layer.layer if isinstance(layer, PruneLowMagnitude) else layer for layer in layers]
