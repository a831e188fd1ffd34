"""Encoders as flat lists of Keras layers, so every kernel can be wrapped for pruning."""

from typing import Sequence

import tensorflow as tf


def mlp(units: Sequence[int], width: int) -> list[tf.keras.layers.Layer]:
    """ReLU Dense layers; `width` multiplies every hidden size (the paper's width scaling)."""
    if width < 1:
        raise ValueError(f"width={width} must be an integer >= 1")
    return [
        tf.keras.layers.Dense(size * width, activation="relu", name=f"hidden_{i}")
        for i, size in enumerate(units)
    ]
