"""One interface for every sparse training method (JaxPruner's `BaseUpdater`, on TF-MOT).

A method is an `Updater` subclass and an entry of `api.METHODS`, which gives its schedule (when
masks change during training; default `NoUpdates`). The subclass overrides what differs from
the base:
- `layer_targets`: each kernel's target sparsity (default: the configured distribution);
- `wrapper_schedule`: the TF-MOT schedule its wrappers hold (default: `FixedSparsity`);
- `initial_masks`: masks made before the first update, from the kernels, a loss on batches or
  a finished run's masks (default: none, all weights kept);
- `new_masks`: the masks at a scheduled update, from kernels, masks, gradients and step, in
  XLA (default: none).

The trainers call `wrap` (as the networks' `layer_transform`), `initialize` right before the
first gradient update, and `update` after each update in `update_steps()`; then the optimizer's
`zero_pruned_moments`. The updater is a `tf.Module`: its random generator is checkpointed with
the run, and its masks live in the networks' wrappers, so a resumed run continues with the same
masks, drop fractions and random draws.
"""

from typing import Callable, Sequence

import numpy as np
import tensorflow as tf

from tfprune_rl.pruning.distribution import layer_sparsities
from tfprune_rl.pruning.schedule import NoUpdates
from tfprune_rl.pruning.wrap import FixedSparsity, MaskedKernel, wrap_layers

Loss = Callable[[object], tf.Tensor]  # a batch -> a scalar training loss of the kernels' network


class Updater(tf.Module):
    """A sparse training method (see the module docstring for what a method overrides)."""

    reads_loss = False  # `initialize` and `update` are given a loss on batches (snip, grasp, rigl)

    def __init__(self, config, schedule=NoUpdates()):
        super().__init__(name="pruning")
        self.config = config  # a `PruningConfig`, which names the methods (no circular import)
        self.schedule = schedule  # when masks change: the method's registry entry says
        self.rng = tf.random.Generator.from_seed(config.seed)

    # What a method overrides.

    def layer_targets(self, shapes: Sequence[Sequence[int]]) -> list[float]:
        return layer_sparsities(shapes, self.config.sparsity, self.config.distribution)

    def wrapper_schedule(self, target: float):
        return FixedSparsity(target)

    def initial_masks(self, kernels: Sequence[MaskedKernel], loss: Loss | None, batches: Sequence,
                      source_masks: Sequence[np.ndarray] | None) -> Sequence | None:
        return None

    def new_masks(self, kernels: Sequence[MaskedKernel], step: tf.Tensor,
                  gradients: Sequence[tf.Tensor] | None) -> list[tf.Tensor]:
        raise NotImplementedError(f"{type(self).__name__} has mask updates but no new_masks")

    # What the trainers call.

    def wrap(self, layers: Sequence[tf.keras.layers.Layer]) -> list[tf.keras.layers.Layer]:
        """The networks' `layer_transform`: wraps each kernel with a target sparsity > 0."""
        shapes = [layer.kernel.shape for layer in layers if hasattr(layer, "kernel")]
        return wrap_layers(layers, self.layer_targets(shapes), self.wrapper_schedule)

    def update_steps(self) -> range:
        """The updates after which `update` runs (none for a dense run)."""
        if self.config.sparsity == 0:
            return range(0)
        return self.schedule.update_steps(self.config.total_updates)

    def initialize(self, kernels: Sequence[MaskedKernel], loss: Loss | None = None,
                   batches: Sequence = (), source_masks: Sequence[np.ndarray] | None = None
                   ) -> None:
        """Installs the method's initial masks, if it has any. Call before the first update:
        Adam has no moments to reset then."""
        masks = self.initial_masks(kernels, loss, batches, source_masks)
        if masks is not None:
            _install(kernels, [tf.constant(mask, tf.float32) for mask in masks])

    def update(self, kernels: Sequence[MaskedKernel], step, loss: Loss | None = None,
               batch=None) -> None:
        """The masks after update `step` (with the dense gradients of `loss` on `batch` when
        the method reads them); pruned weights become 0."""
        gradients = (kernel_gradients([k.kernel for k in kernels], loss, batch)
                     if self.reads_loss else None)
        _install(kernels, self.new_masks(kernels, step, gradients))
        for k in kernels:
            k.step.assign(tf.cast(step, tf.int64))


def _install(kernels: Sequence[MaskedKernel], masks: Sequence[tf.Tensor]) -> None:
    for k, mask in zip(kernels, masks, strict=True):
        if tuple(mask.shape) != tuple(k.kernel.shape):
            raise ValueError(f"mask of shape {tuple(mask.shape)} does not fit kernel {k.name} "
                             f"of shape {tuple(k.kernel.shape)}")
        k.mask.assign(tf.cast(mask, k.mask.dtype))
        k.kernel.assign(k.kernel * k.mask)
        kept = tf.where(k.mask > 0, tf.abs(k.kernel), np.inf)
        k.threshold.assign(tf.where(tf.reduce_any(k.mask > 0), tf.reduce_min(kept), 0.0))


def kernel_gradients(variables: Sequence[tf.Variable], loss: Loss, batch) -> list[tf.Tensor]:
    """Dense gradients of `loss` on `batch` with respect to each kernel variable, pruned
    entries included."""
    with tf.GradientTape() as tape:
        value = loss(batch)
    return zeros_for_none(tape.gradient(value, variables), variables)


def zeros_for_none(gradients, variables) -> list[tf.Tensor]:
    """A kernel the loss does not reach has gradient zero, not None."""
    return [tf.zeros_like(v) if g is None else tf.convert_to_tensor(g)
            for g, v in zip(gradients, variables)]
