"""A TF-Agents Q-network: encoder layers, then a linear head with one output per action."""

from typing import Callable, Sequence

import tensorflow as tf
from tf_agents.networks import network

from tfprune_rl.networks.encoders import mlp

LayerTransform = Callable[[Sequence[tf.keras.layers.Layer]], list[tf.keras.layers.Layer]]


class QNetwork(network.Network):
    """Q(s, .) from a flat stack of layers.

    `layer_transform` receives the built layers and returns the ones to use (pruning wraps
    them here). `copy()` rebuilds the network from its arguments, so a target network gets
    wrappers of its own instead of sharing the online network's step variable.

    Layers are always called with training=False: there is no dropout or batch norm, and
    pruning masks advance only through `tfprune_rl.pruning.update_masks`.
    """

    def __init__(
        self,
        input_tensor_spec,
        action_spec,
        hidden_units: Sequence[int] = (64, 64),
        width: int = 1,
        layer_transform: LayerTransform | None = None,
        name: str = "QNetwork",
    ):
        super().__init__(input_tensor_spec, state_spec=(), name=name)
        num_actions = int(action_spec.maximum) - int(action_spec.minimum) + 1
        layers = mlp(hidden_units, width) + [tf.keras.layers.Dense(num_actions, name="q_values")]
        features = int(tf.TensorShape(input_tensor_spec.shape).num_elements())
        for layer in layers:
            with tf.name_scope(layer.name):
                layer.build((None, features))
            features = layer.compute_output_shape((None, features))[-1]
        self._stack = layer_transform(layers) if layer_transform else layers
        self._flat_input = tf.keras.layers.Flatten()

    @property
    def stack(self) -> list[tf.keras.layers.Layer]:
        return list(self._stack)

    def call(self, observation, step_type=None, network_state=(), training=False):
        del step_type, training
        x = self._flat_input(tf.cast(observation, tf.float32))
        for layer in self._stack:
            x = layer(x, training=False)
        return x, network_state

