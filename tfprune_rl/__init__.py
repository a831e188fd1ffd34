"""tfprune_rl: sparse value-based deep RL on TensorFlow, TF-Agents and TF-MOT.

TF-MOT and TF-Agents only work with Keras 2 (`tf_keras`). TensorFlow decides which Keras
`tf.keras` means from `TF_USE_LEGACY_KERAS` (when it is imported, and again when `tf.keras` is
first used), so this package sets the variable before TensorFlow is imported and refuses to
load if `tf.keras` is already Keras 3.
"""

import os
import sys

__version__ = "0.1.0"


class KerasVersionError(ImportError):
    """tf.keras was bound to Keras 3 before tfprune_rl could select Keras 2."""


def _require_keras_2():
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    if "tensorflow" not in sys.modules:
        return
    import tensorflow as tf
    import tf_keras

    if tf.keras.layers.Layer is not tf_keras.layers.Layer:
        raise KerasVersionError(
            "tfprune_rl needs Keras 2 (tf_keras), but TensorFlow was imported first and tf.keras "
            f"is Keras 3 (module {tf.keras.layers.Layer.__module__}); import tfprune_rl before "
            "tensorflow, or set TF_USE_LEGACY_KERAS=1 in the environment."
        )


_require_keras_2()
