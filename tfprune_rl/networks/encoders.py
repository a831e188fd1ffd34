"""Encoders with a width multiplier: their weighted layers, and a function that runs them.

Pruning wraps layers, so an encoder is the list of its convolution and dense layers in call
order plus a forward function that takes that list (wrapped or not). Pooling, flattening and
residual connections have no weights and live in the forward function.
"""

import dataclasses
from typing import Callable, Sequence

import tensorflow as tf
import tensorflow_model_optimization as tfmot


IMPALA_CHANNELS = (32, 64, 64)
IMPALA_BLOCKS_PER_STACK = 2

Layers = Sequence[tf.keras.layers.Layer]


@dataclasses.dataclass
class Encoder:
    """`next_layer[i]` is the index of the one layer that reads layer i's output (len(layers)
    for the head), or None when several do (Impala's residual stream): ReDo needs a neuron's
    outgoing weights in one place."""

    layers: list[tf.keras.layers.Layer]
    forward: Callable[[Layers, tf.Tensor], tf.Tensor]
    next_layer: list[int | None]


def make_encoder(name: str, width: int, hidden_units: Sequence[int] = (64, 64)) -> Encoder:
    """`width` multiplies every channel count and hidden size (the paper's width scaling).

    `hidden_units` sizes the `mlp` encoder's layers; the convolutional encoders have the
    published sizes: MinAtar (Young & Tian 2019), Nature DQN (Mnih et al. 2015), Impala
    ResNet (Espeholt et al. 2018, as used by the paper).
    """
    if width < 1:
        raise ValueError(f"width={width} must be an integer >= 1")
    if name == "mlp":
        layers = [_dense(units * width, f"hidden_{i}") for i, units in enumerate(hidden_units)]
        return _sequential_encoder(layers, num_convs=0, input_scale=1.0)
    if name == "minatar":
        layers = [WindowConv2D(16 * width, 3, activation="relu", name="conv_0"),
                  _dense(128 * width, "dense_0")]
        return _sequential_encoder(layers, num_convs=1, input_scale=1.0)
    if name == "nature":
        layers = [
            _conv(32 * width, 8, 4, "conv_0"),
            _conv(64 * width, 4, 2, "conv_1"),
            _conv(64 * width, 3, 1, "conv_2"),
            _dense(512 * width, "dense_0"),
        ]
        return _sequential_encoder(layers, num_convs=3, input_scale=1 / 255)
    if name == "impala":
        return _impala(width)
    raise ValueError(f"unknown encoder {name!r}; choose one of mlp, minatar, nature, impala")


class WindowConv2D(tf.keras.layers.Conv2D, tfmot.sparsity.keras.PrunableLayer):
    """A stride-1 unpadded convolution computed as one matrix product: the kernel's h x w
    shifted windows of the input side by side, times the kernel as an (h * w * channels,
    filters) matrix. Kernel, shape and initializers are Conv2D's.

    XLA on a CPU computes MinAtar's 3x3 convolution of 10x10 inputs faster this way: a DQN
    update took 0.58 ms against 0.76 ms with XLA's convolution (this machine, 2 cores). On
    Atari's 84x84 frames XLA's own convolution is faster (Nature CNN: 19.7 ms against 26.6 ms
    per update), so the other encoders keep it.
    """

    def convolution_op(self, inputs, kernel):
        kernel_height, kernel_width, channels, filters = kernel.shape
        height = inputs.shape[1] - kernel_height + 1
        width = inputs.shape[2] - kernel_width + 1
        windows = tf.concat([inputs[:, i:i + height, j:j + width, :]
                             for i in range(kernel_height) for j in range(kernel_width)], axis=-1)
        flat = tf.reshape(windows, (-1, kernel_height * kernel_width * channels))
        return tf.reshape(flat @ tf.reshape(kernel, (-1, filters)), (-1, height, width, filters))

    def get_prunable_weights(self):
        return [self.kernel]


def _conv(filters, kernel_size, strides, name, padding="valid", activation="relu"):
    return tf.keras.layers.Conv2D(
        filters, kernel_size, strides, padding=padding, activation=activation, name=name
    )


def _dense(units, name):
    return tf.keras.layers.Dense(units, activation="relu", name=name)


def _flatten(x: tf.Tensor) -> tf.Tensor:
    return tf.reshape(x, (-1, x.shape[1:].num_elements()))


def _sequential_encoder(layers: list[tf.keras.layers.Layer], num_convs: int,
                        input_scale: float) -> Encoder:
    """Convolutions, then a flatten, then dense layers; every layer applies its own ReLU."""

    def forward(layers: Layers, observation: tf.Tensor) -> tf.Tensor:
        x = tf.cast(observation, tf.float32) * input_scale
        if num_convs == 0:
            x = _flatten(x)
        for i, layer in enumerate(layers):
            if i == num_convs and num_convs > 0:
                x = _flatten(x)
            x = layer(x, training=False)
        return x

    return Encoder(layers, forward, list(range(1, len(layers) + 1)))


def _max_pool_3x3_stride_2(x: tf.Tensor) -> tf.Tensor:
    """`tf.nn.max_pool2d(x, 3, 2, "SAME")` as the max of 9 strided slices: XLA has no
    deterministic gradient of MaxPool, and every run enables op determinism."""
    height, width = x.shape[1], x.shape[2]
    out_h, out_w = -(-height // 2), -(-width // 2)
    pad_h, pad_w = max(2 * out_h + 1 - height, 0), max(2 * out_w + 1 - width, 0)
    x = tf.pad(x, [[0, 0], [pad_h // 2, pad_h - pad_h // 2], [pad_w // 2, pad_w - pad_w // 2],
                   [0, 0]], constant_values=float("-inf"))
    return tf.reduce_max(tf.stack([x[:, i:i + 2 * out_h - 1:2, j:j + 2 * out_w - 1:2, :]
                                   for i in range(3) for j in range(3)]), axis=0)


def _impala(width: int) -> Encoder:
    """Per stack: conv, 3x3 max-pool with stride 2, two residual blocks (relu-conv-relu-conv)."""
    layers, next_layer = [], []
    for s, channels in enumerate(IMPALA_CHANNELS):
        filters = channels * width
        layers.append(_conv(filters, 3, 1, f"stack_{s}_conv", "same", activation=None))
        next_layer.append(None)
        for b in range(IMPALA_BLOCKS_PER_STACK):
            for c in range(2):
                layers.append(_conv(filters, 3, 1, f"stack_{s}_block_{b}_conv_{c}", "same", None))
                next_layer.append(len(layers) if c == 0 else None)
    layers.append(_dense(512 * width, "dense_0"))
    next_layer.append(len(layers))

    def forward(layers: Layers, observation: tf.Tensor) -> tf.Tensor:
        x = tf.cast(observation, tf.float32) / 255
        convs = iter(layers[:-1])
        for _ in IMPALA_CHANNELS:
            x = next(convs)(x, training=False)
            x = _max_pool_3x3_stride_2(x)
            for _ in range(IMPALA_BLOCKS_PER_STACK):
                y = next(convs)(tf.nn.relu(x), training=False)
                x = x + next(convs)(tf.nn.relu(y), training=False)
        x = _flatten(tf.nn.relu(x))
        return layers[-1](x, training=False)

    return Encoder(layers, forward, next_layer)
