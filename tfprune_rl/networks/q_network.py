"""A TF-Agents Q-network: an encoder, then a head (`networks.heads`) that says what the
network returns and how Q(s, .) is read from it."""

from typing import Callable, NamedTuple, Sequence

import tensorflow as tf
from tf_agents.networks import network

from tfprune_rl.networks.encoders import make_encoder
from tfprune_rl.networks.heads import ValueHead
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
    """An encoder and a `head`: Q(s, .) as `num_actions` values (`ValueHead`), as
    `num_actions` x `num_atoms` logits (`CategoricalHead`, what TF-Agents' CategoricalDqnAgent
    expects), or as the mean of IQN's quantiles on a fixed grid (`QuantileHead`).
    `q_values(outputs)` reads Q(s, .) from any of them.

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
        head: ValueHead = ValueHead(),
        layer_transform: LayerTransform | None = None,
        normalize_features: bool = False,
        name: str = "QNetwork",
    ):
        super().__init__(input_tensor_spec, state_spec=(), name=name)
        if encoder != "mlp" and input_tensor_spec.shape.rank != 3:
            raise ValueError(f"encoder {encoder!r} needs image observations (height, width, "
                             f"channels), not shape {tuple(input_tensor_spec.shape)}; use mlp")
        num_actions = int(action_spec.maximum) - int(action_spec.minimum) + 1
        self._head = head
        self._normalize_features = normalize_features
        built = make_encoder(encoder, width, hidden_units)
        self._forward = built.forward
        dummy = tf.zeros((1, *input_tensor_spec.shape), input_tensor_spec.dtype)
        features = self._forward(built.layers, dummy)  # builds every layer, in call order
        head_layers = head.layers(num_actions, features.shape[-1])
        head.outputs(head_layers, features)
        self._num_encoder_layers = len(built.layers)
        # The output layer reads the encoder's features (through IQN's product with phi(tau)).
        self._next_layer = [len(built.layers) + len(head_layers) - 1 if i == len(built.layers)
                            else i for i in built.next_layer]
        layers = built.layers + head_layers
        self._stack = layer_transform(layers) if layer_transform else layers
        self._run(self._stack, dummy)  # builds what the transform added (pruning wrappers' masks)
        self._compute_layers = strip(self._stack)
        self.create_variables()

    @property
    def stack(self) -> list[tf.keras.layers.Layer]:
        return list(self._stack)

    @property
    def head(self) -> ValueHead:
        return self._head

    @property
    def num_atoms(self) -> int:
        """Only a categorical head has atoms; TF-Agents' CategoricalDqnAgent reads them here."""
        return self._head.num_atoms

    def q_values(self, outputs: tf.Tensor) -> tf.Tensor:
        """Q(s, .) from what `call` returned."""
        return self._head.q_values(outputs)

    def quantiles(self, observation, taus: tf.Tensor) -> tf.Tensor:
        """A `QuantileHead`'s quantile values [batch, N, actions] at fractions `taus` [batch, N]."""
        layers = self._compute_layers
        features = self._features(layers[:self._num_encoder_layers], observation)
        return self._head.quantiles(layers[self._num_encoder_layers:], features, taus)

    @property
    def next_layer(self) -> list[int | None]:
        """For each encoder layer, the index in `stack` of the one layer reading its output,
        or None when several do."""
        return list(self._next_layer)

    def _run(self, layers, observation):
        n = self._num_encoder_layers
        return self._head.outputs(layers[n:], self._features(layers[:n], observation))

    def _features(self, encoder_layers, observation):
        features = self._forward(encoder_layers, observation)
        if self._normalize_features:
            features = tf.math.l2_normalize(features, axis=-1, epsilon=1e-12)
        return features

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

        n = self._num_encoder_layers
        features = self._features([recorded(layer) for layer in self._compute_layers[:n]],
                                  observation)
        return Probe(activations, features, self._head.outputs(self._compute_layers[n:], features))

