"""TF-MOT pruning wrappers, and the one accessor of their state (`masked_kernels`).

Every method wraps the kernels it prunes in `prune_low_magnitude`: the wrapper holds the mask
(checkpointed with its network) and a schedule whose `final_sparsity` is the layer's target;
gradual magnitude pruning's schedule is TF-MOT's `PolynomialDecay`, every other method's is
`FixedSparsity`. A wrapper advances its own step and re-masks its kernel on every call with
training=True, so networks here run the layers inside the wrappers instead; masks change only
through `Updater.initialize` and `Updater.update`, and the optimizer (`MaskedAdam`) keeps
pruned weights at exactly zero in between. Nothing outside this package reads a wrapper's
private variables; they are reached through `MaskedKernel`.
"""

import dataclasses
from typing import Sequence

import tensorflow as tf
import tensorflow_model_optimization as tfmot
from tensorflow_model_optimization.python.core.sparsity.keras.pruning_wrapper import (
    PruneLowMagnitude,
)


class FixedSparsity(tfmot.sparsity.keras.PruningSchedule):
    """A TF-MOT schedule that is never due: the method, not TF-MOT, sets the mask.
    `final_sparsity` is the layer's target."""

    def __init__(self, final_sparsity: float):
        self.final_sparsity = float(final_sparsity)

    def __call__(self, step):
        return tf.constant(False), tf.constant(self.final_sparsity, tf.float32)

    def get_config(self):
        return {"class_name": self.__class__.__name__,
                "config": {"final_sparsity": self.final_sparsity}}


@dataclasses.dataclass(frozen=True)
class MaskedKernel:
    """A wrapped layer's kernel and its pruning state."""

    name: str
    kernel: tf.Variable
    mask: tf.Variable
    threshold: tf.Variable  # the smallest magnitude kept at the last mask change
    step: tf.Variable  # TF-MOT's pruning step: the update of the last mask change
    schedule: tfmot.sparsity.keras.PruningSchedule

    @property
    def target(self) -> float:
        """The layer's final sparsity."""
        return float(self.schedule.final_sparsity)


def wrap_layers(layers: Sequence[tf.keras.layers.Layer], targets: Sequence[float],
                schedule) -> list[tf.keras.layers.Layer]:
    """Wraps each kernel layer whose target (in `layers`' kernel order) is > 0, with TF-MOT
    schedule `schedule(target)`; the others stay plain."""
    kernel_layers = [layer for layer in layers if hasattr(layer, "kernel")]
    target_by_layer = {id(layer): target for layer, target in zip(kernel_layers, targets,
                                                                    strict=True)}
    wrapped = []
    for layer in layers:
        target = target_by_layer.get(id(layer), 0.0)
        wrapped.append(tfmot.sparsity.keras.prune_low_magnitude(
            layer, pruning_schedule=schedule(target)) if target > 0.0 else layer)
    return wrapped

def pruning_wrappers(layers: Sequence[tf.keras.layers.Layer]) -> list[PruneLowMagnitude]:
    return [layer for layer in layers if isinstance(layer, PruneLowMagnitude)]


def masked_kernels(layers: Sequence[tf.keras.layers.Layer]) -> list[MaskedKernel]:
    """Every wrapped layer's kernel with its pruning state, in order."""
    return [MaskedKernel(wrapper.layer.name, *wrapper.pruning_vars[0], wrapper.pruning_step,
                         wrapper.pruning_schedule)
            for wrapper in pruning_wrappers(layers)]


def kernel_mask(layer: tf.keras.layers.Layer) -> tf.Variable | None:
    """The mask of a wrapped layer's kernel; None for a plain layer."""
    return masked_kernels([layer])[0].mask if isinstance(layer, PruneLowMagnitude) else None


def apply_masks(kernels: Sequence[MaskedKernel]) -> None:
    """Zeroes pruned kernel entries."""
    for k in kernels:
        k.kernel.assign(k.kernel * k.mask)


def strip(layers: Sequence[tf.keras.layers.Layer]) -> list[tf.keras.layers.Layer]:
    """The layers inside the wrappers; call `apply_masks` first so their kernels are sparse."""
    return [layer.layer if isinstance(layer, PruneLowMagnitude) else layer for layer in layers]
