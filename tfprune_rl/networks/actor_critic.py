"""Actor and twin critic MLPs for continuous control, as TF-Agents Networks that pruning can wrap.

As in `QNetwork`, `layer_transform` receives the built layers and returns the ones to keep
(pruning wraps them), the forward pass runs the layers inside the wrappers, and masks change
only where the training step re-masks. Observations are normalized inside the network with the
dataset's mean and std (TD3+BC's state normalization), so a served actor takes raw observations.
"""

from typing import Callable, Sequence

import numpy as np
import tensorflow as tf
from tf_agents.networks import network

from tfprune_rl.pruning import strip

LayerTransform = Callable[[Sequence[tf.keras.layers.Layer]], list[tf.keras.layers.Layer]]
LOG_STD_RANGE = (-5.0, 2.0)


def _mlp_layers(hidden_units: Sequence[int], width: int, outputs: int, prefix: str, seed: int):
    """Dense layers whose initial weights depend on `seed` alone: with TF's global seed, a
    second network built in the same process would start elsewhere."""
    sizes = [units * width for units in hidden_units] + [outputs]
    return [tf.keras.layers.Dense(
        size, activation="relu" if i < len(hidden_units) else None,
        kernel_initializer=tf.keras.initializers.GlorotUniform(seed=seed * 1000 + i),
        name=f"{prefix}hidden_{i}" if i < len(hidden_units) else f"{prefix}output")
        for i, size in enumerate(sizes)]


def _run(layers, x):
    for layer in layers:
        x = layer(x, training=False)
    return x


class _PrunableMlps(network.Network):
    """One or more MLPs on the same input; `stack` is their layers in order."""

    def __init__(self, input_tensor_spec, input_size: int, mlps: list[list[tf.keras.layers.Layer]],
                 observation_mean, observation_std, layer_transform: LayerTransform | None, name: str,
                 init_args: dict):
        super().__init__(input_tensor_spec, state_spec=(), name=name)
        self._init_args = init_args
        self._mean = tf.constant(np.asarray(observation_mean, np.float32))
        self._std = tf.constant(np.asarray(observation_std, np.float32))
        self._sizes = [len(layers) for layers in mlps]
        layers = [layer for mlp in mlps for layer in mlp]
        dummy = tf.zeros((1, input_size))
        for mlp in mlps:
            _run(mlp, dummy)
        self._stack = layer_transform(layers) if layer_transform else layers
        for mlp in self._split(self._stack):
            _run(mlp, dummy)  # builds what the transform added (pruning wrappers' masks)
        self._mlps = self._split(strip(self._stack))

    def _split(self, layers):
        mlps, start = [], 0
        for size in self._sizes:
            mlps.append(list(layers[start:start + size]))
            start += size
        return mlps

    @property
    def stack(self) -> list[tf.keras.layers.Layer]:
        return list(self._stack)

    def compute_variables(self) -> list[tf.Variable]:
        """Kernels and biases of the layers the forward pass runs (for target updates)."""
        return [w for mlp in self._mlps for layer in mlp for w in (layer.kernel, layer.bias)]

    def _normalize(self, observation):
        return (tf.cast(observation, tf.float32) - self._mean) / self._std

    def copy(self, **kwargs):
        return type(self)(**{**self._init_args, **kwargs})


class ActorNetwork(_PrunableMlps):
    """s -> action in the action spec's bounds (tanh, rescaled). With `gaussian`, the MLP also
    gives a log std, and `distribution` returns the pre-tanh mean and std (SAC's actor); `call`
    is then the deterministic action tanh(mean)."""

    def __init__(self, input_tensor_spec, action_spec, hidden_units: Sequence[int] = (256, 256),
                 width: int = 1, gaussian: bool = False, observation_mean=0.0,
                 observation_std=1.0, layer_transform: LayerTransform | None = None,
                 seed: int = 0, name: str = "ActorNetwork"):
        init_args = dict(input_tensor_spec=input_tensor_spec, action_spec=action_spec,
                         hidden_units=tuple(hidden_units), width=width, gaussian=gaussian,
                         observation_mean=observation_mean, observation_std=observation_std,
                         layer_transform=layer_transform, seed=seed, name=name)
        action_size = int(np.prod(action_spec.shape))
        super().__init__(input_tensor_spec, int(np.prod(input_tensor_spec.shape)),
                         [_mlp_layers(hidden_units, width, action_size * (1 + gaussian), "", seed)],
                         observation_mean, observation_std, layer_transform, name, init_args)
        self._action_size = action_size
        self._low = tf.constant(np.broadcast_to(action_spec.minimum, action_spec.shape), tf.float32)
        self._high = tf.constant(np.broadcast_to(action_spec.maximum, action_spec.shape), tf.float32)
        self.create_variables()

    def scale(self, squashed: tf.Tensor) -> tf.Tensor:
        """[-1, 1] -> the action bounds."""
        return self._low + (squashed + 1.0) * 0.5 * (self._high - self._low)

    @property
    def action_size(self) -> int:
        return self._action_size

    @property
    def half_range(self) -> tf.Tensor:
        return 0.5 * (self._high - self._low)

    def _outputs(self, observation):
        return _run(self._mlps[0], self._normalize(observation))

    def distribution(self, observation) -> tuple[tf.Tensor, tf.Tensor]:
        mean, log_std = tf.split(self._outputs(observation), 2, axis=-1)
        return mean, tf.exp(tf.clip_by_value(log_std, *LOG_STD_RANGE))

    def call(self, observation, step_type=None, network_state=(), training=False):
        del step_type, training
        outputs = self._outputs(observation)
        mean = outputs[..., :self._action_size]
        return self.scale(tf.tanh(mean)), network_state


class CriticNetwork(_PrunableMlps):
    """(s, a) -> (Q1, Q2): two independent MLPs (TD3's and SAC's twin critics) in one network,
    so that one mask covers both."""

    def __init__(self, input_tensor_spec, hidden_units: Sequence[int] = (256, 256), width: int = 1,
                 observation_mean=0.0, observation_std=1.0,
                 layer_transform: LayerTransform | None = None, seed: int = 0,
                 name: str = "CriticNetwork"):
        init_args = dict(input_tensor_spec=input_tensor_spec, hidden_units=tuple(hidden_units),
                         width=width, observation_mean=observation_mean,
                         observation_std=observation_std, layer_transform=layer_transform,
                         seed=seed, name=name)
        observation_spec, action_spec = input_tensor_spec
        size = int(np.prod(observation_spec.shape)) + int(np.prod(action_spec.shape))
        super().__init__(input_tensor_spec, size,
                         [_mlp_layers(hidden_units, width, 1, f"q{i}_", seed + 100 * i)
                          for i in (1, 2)],
                         observation_mean, observation_std, layer_transform, name, init_args)
        self.create_variables()

    def call(self, inputs, step_type=None, network_state=(), training=False):
        del step_type, training
        observation, action = inputs
        x = tf.concat([self._normalize(observation), tf.cast(action, tf.float32)], axis=-1)
        q1, q2 = (tf.squeeze(_run(mlp, x), -1) for mlp in self._mlps)
        return (q1, q2), network_state
