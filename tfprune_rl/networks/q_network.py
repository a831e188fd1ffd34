"""A TF-Agents Q-network: an encoder, then a linear head (one value, or one distribution, per action)."""

from typing import Callable, Sequence

import tensorflow as tf
from tf_agents.networks import network

from tfprune_rl.networks.encoders import make_encoder
from tfprune_rl.pruning import strip

LayerTransform = Callable[[Sequence[tf.keras.layers.Layer]], list[tf.keras.layers.Layer]]


class QNetwork(network.Network):
    """Q(s, .) as `num_actions` values, or as `num_actions` x `num_atoms` logits when
    `num_atoms` > 1 (the categorical head TF-Agents' CategoricalDqnAgent expects).

    `layer_transform` receives the built layers and returns the ones to use (pruning wraps
    them here). `copy()` rebuilds the network from its arguments, so a target network gets
    wrappers of its own instead of sharing the online network's step variable.

    The forward pass runs the layers inside any pruning wrappers: a TF-MOT wrapper re-masks
    its kernel on every call (acting, target and online passes alike), while the kernels only
    change at optimizer steps, after which `tfprune_rl.pruning.update_masks` re-masks them
    once. Masks advance only there, counted in gradient updates.
    """

    def __init__(
        self,
        input_tensor_spec,
        action_spec,
        encoder: str = "mlp",
        width: int = 1,
        hidden_units: Sequence[int] = (64, 64),
        num_atoms: int = 1,
        layer_transform: LayerTransform | None = None,
        name: str = "QNetwork",
    ):
        super().__init__(input_tensor_spec, state_spec=(), name=name)
        self._num_actions = int(action_spec.maximum) - int(action_spec.minimum) + 1
        self._num_atoms = num_atoms
        built = make_encoder(encoder, width, hidden_units)
        head = tf.keras.layers.Dense(self._num_actions * num_atoms, name="q_values")
        self._forward = built.forward
        layers = built.layers + [head]
        dummy = tf.zeros((1, *input_tensor_spec.shape), input_tensor_spec.dtype)
        self._run(layers, dummy)  # builds every layer, in call order
        self._stack = layer_transform(layers) if layer_transform else layers
        self._run(self._stack, dummy)  # builds what the transform added (pruning wrappers' masks)
        self._compute_layers = strip(self._stack)
        self.create_variables()

    @property
    def stack(self) -> list[tf.keras.layers.Layer]:
        return list(self._stack)

    @property
    def num_atoms(self) -> int:
        return self._num_atoms

    def _run(self, layers, observation):
        head_output = layers[-1](self._forward(layers[:-1], observation), training=False)
        if self._num_atoms == 1:
            return head_output
        return tf.reshape(head_output, (-1, self._num_actions, self._num_atoms))

    def call(self, observation, step_type=None, network_state=(), training=False):
        del step_type, training
        return self._run(self._compute_layers, observation), network_state
