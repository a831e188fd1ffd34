"""Image augmentations of sampled observations (DrQ; Kostrikov et al. 2021, Agarwal et al. 2021).

An augmentation applies to the observation and next observation of every sampled transition,
each drawn on its own, inside the compiled update; acting and evaluation see raw observations.
The module imports TensorFlow only when an augmentation runs, so that `--augmentation` is
checked before TensorFlow is imported.
"""

from __future__ import annotations

from typing import Callable

RANDOM_SHIFT_PAD = 4  # DrQ's padding, in pixels


def random_shift(images: tf.Tensor, generator: tf.random.Generator,
                 pad: int = RANDOM_SHIFT_PAD) -> tf.Tensor:
    """Each image [batch, height, width, channels] padded by `pad` pixels that repeat its edge,
    then cropped back to its size at a random offset in [0, 2 * pad] per axis and per image.
    Read as clipped indices, so no padded copy is made."""
    import tensorflow as tf

    batch, height, width = tf.shape(images)[0], images.shape[1], images.shape[2]
    offsets = generator.uniform((batch, 2), 0, 2 * pad + 1, tf.int32) - pad
    rows = tf.clip_by_value(offsets[:, :1] + tf.range(height)[None], 0, height - 1)
    columns = tf.clip_by_value(offsets[:, 1:] + tf.range(width)[None], 0, width - 1)
    return tf.gather(tf.gather(images, rows, axis=1, batch_dims=1), columns, axis=2,
                     batch_dims=1)


AUGMENTATIONS: dict[str, Callable | None] = {"none": None, "random_shift": random_shift}


def check_augmentation(name: str, observation_shape) -> None:
    """Refuses an unknown augmentation, or an image one for observations that are not images."""
    if name not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {name!r}; choose one of "
                         f"{', '.join(AUGMENTATIONS)}")
    if AUGMENTATIONS[name] and len(observation_shape) != 3:
        raise ValueError(f"augmentation {name!r} shifts images (height, width, channels); "
                         f"these observations have shape {tuple(observation_shape)}")
