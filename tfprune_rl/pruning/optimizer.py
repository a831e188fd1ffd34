"""Adam that never moves a pruned weight, with no pass over the kernels after each step.

Each gradient is multiplied by its kernel's mask before Adam sees it, and after every mask
update Adam's moments are zeroed where the new mask prunes (`zero_pruned_moments`). A pruned
weight is then 0 with zero moments and zero gradients, so Adam's step for it is exactly 0
(and so is decoupled weight decay's), until a mask update keeps it again: then it starts at 0
with zero moments, as a new weight does in SET and RigL. Kept weights train
as with plain Adam. Re-masking the kernels after each step instead cost 7% of a MinAtar
update here; the gradient's multiply fuses into the backward pass.
"""

import types
from typing import Sequence

import tensorflow as tf

from tfprune_rl.pruning.wrap import MaskedKernel


class MaskedAdam(tf.keras.optimizers.Adam):
    """`masked_kernels`: `pruning.masked_kernels` of the network; other variables train as with
    Adam."""

    def __init__(self, *args, masked_kernels: Sequence[MaskedKernel] = (), **kwargs):
        super().__init__(*args, **kwargs)
        # A read-only view: TF would track a dict (and refuse to save its keys); the masks are
        # saved with their networks.
        self._masks = types.MappingProxyType({k.kernel.ref(): k.mask for k in masked_kernels})

    def apply_gradients(self, grads_and_vars, *args, **kwargs):
        masked = [(gradient * self._masks[variable.ref()]
                   if gradient is not None and variable.ref() in self._masks else gradient,
                   variable) for gradient, variable in grads_and_vars]
        return super().apply_gradients(masked, *args, **kwargs)

    def moments(self, variable: tf.Variable) -> tuple[tf.Variable, tf.Variable]:
        """Adam's first and second moments of `variable` (the optimizer must be built). Keras
        2 has no public accessor; these are the lists its own update step indexes this way."""
        index = self._index_dict[self._var_key(variable)]
        return self._momentums[index], self._velocities[index]

    def zero_pruned_moments(self) -> None:
        """Call after a mask update: what the masks prune now has no momentum left."""
        for kernel, mask in self._masks.items():
            for moment in self.moments(kernel.deref()):
                moment.assign(moment * mask)
