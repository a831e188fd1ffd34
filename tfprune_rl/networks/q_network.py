"""A TF-Agents Q-network: an encoder, then a linear head (one value, or one distribution, per action)."""

from typing import Callable, NamedTuple, Sequence

import tensorflow as tf
from tf_agents.networks import network

from tfprune_rl.networks.encoders import make_encoder
from tfprune_rl.pruning import strip

LayerTransform = Callable[[Sequence[tf.keras.layers.Layer]], list[tf.keras.layers.Layer]]


class Probe(NamedTuple):
    """One forward pass, opened up: each encoder layer's activation (after the ReLU that
    follows it), the features the head reads, and the head's output. A tuple, so that a
    tf.function can return it."""

    activations: dict[str, tf.Tensor]
    features: tf.Tensor
    outputs: tf.Tensor


class QNetwork(network.Network):
    """Q(s, .) as `num_actions` values, or as `num_actions` x `num_atoms` logits when
    `num_atoms` > 1 (the categorical head TF-Agents' CategoricalDqnAgent expects).

    `layer_transform` receives the built layers and returns the ones to use (pruning wraps
    them here). `copy()` rebuilds the network from its arguments, so a target network gets
    wrappers of its own instead of sharing the online network's step variable.

    The forward pass runs the layers inside any pruning wrappers: a TF-MOT wrapper re-masks
    its kernel on every call (acting, target and online passes alike), while the kernels only
    change at optimizer steps, after which `tfprune_rl.pruning.Updater.update` re-masks them
    once. Masks advance only there, counted in gradient updates.

    `normalize_features` divides the features the head reads by their L2 norm (the feature
    normalization of Kumar et al. 2022, the paper's "+L2" baseline):
    phi / sqrt(max(||phi||^2, 1e-12)), which has a gradient at phi = 0.
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
        normalize_features: bool = False,
        name: str = "QNetwork",
    ):
        super().__init__(input_tensor_spec, state_spec=(), name=name)
        if encoder != "mlp" and input_tensor_spec.shape.rank != 3:
            raise ValueError(f"encoder {encoder!r} needs image observations (height, width, "
                             f"channels), not shape {tuple(input_tensor_spec.shape)}; use mlp")
        self._num_actions = int(action_spec.maximum) - int(action_spec.minimum) + 1
        self._num_atoms = num_atoms
        self._normalize_features = normalize_features
        built = make_encoder(encoder, width, hidden_units)
        head = tf.keras.layers.Dense(self._num_actions * num_atoms, name="q_values")
        self._forward = built.forward
        self._next_layer = built.next_layer
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

    @property
    def next_layer(self) -> list[int | None]:
        """For each encoder layer, the index in `stack` of the one layer reading its output,
        or None when several do."""
        return list(self._next_layer)

    def _run(self, layers, observation):
        return self._head(layers[-1], self._features(layers[:-1], observation))

    def _features(self, encoder_layers, observation):
        features = self._forward(encoder_layers, observation)
        if self._normalize_features:
            features = tf.math.l2_normalize(features, axis=-1, epsilon=1e-12)
        return features

    def _head(self, head, features):
        head_output = head(features, training=False)
        if self._num_atoms == 1:
            return head_output
        return tf.reshape(head_output, (-1, self._num_actions, self._num_atoms))

    def call(self, observation, step_type=None, network_state=(), training=False):
        del step_type, training
        return self._run(self._compute_layers, observation), network_state

    def probe(self, observation) -> Probe:
        """The same forward pass as `call`, recording every encoder layer's activation."""
        activations = {}

        def recorded(layer):
            def run(x, training):
                y = layer(x, training=training)
                activations[layer.name] = tf.nn.relu(y)
                return y
            return run

        encoder_layers = self._compute_layers[:-1]
        features = self._features([recorded(layer) for layer in encoder_layers], observation)
        return Probe(activations, features, self._head(self._compute_layers[-1], features))


def q_values(outputs: tf.Tensor, v_max: float) -> tf.Tensor:
    """Q(s, .) from a QNetwork's outputs: the values themselves, or for a categorical head the
    means of its distributions on the support [-v_max, v_max] (as TF-Agents' C51 computes)."""
    if outputs.shape.rank == 2:
        return outputs
    support = tf.linspace(-v_max, v_max, outputs.shape[-1])
    return tf.reduce_sum(tf.nn.softmax(outputs) * support, axis=-1)
