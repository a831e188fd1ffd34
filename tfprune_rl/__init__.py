"""tfprune_rl: sparse value-based deep RL on TensorFlow, TF-Agents and TF-MOT.

TF-MOT and TF-Agents only work with Keras 2 (`tf_keras`). TensorFlow decides which Keras
`tf.keras` means from `TF_USE_LEGACY_KERAS` (when it is imported, and again when `tf.keras` is
first used), so this package sets the variable before TensorFlow is imported and refuses to
load if `tf.keras` is already Keras 3.

XLA on a CPU runs each compiled step on the calling thread alone
(`--xla_cpu_multi_thread_eigen=false`, unless XLA_FLAGS says otherwise): the train steps here
are a few small matrix products, and waking a second thread for each costs more than it
saves. Measured on a 2-core machine, MinAtar DQN with 16 envs, alternating runs: 3,165 and
3,225 env steps/s against 2,711 and 2,351 multi-threaded; Nature CNN updates took the same
time either way (20 ms). A sweep's trials then each keep to their own core.
"""

import os
import sys

__version__ = "0.1.0"


class KerasVersionError(ImportError):
    """tf.keras was bound to Keras 3 before tfprune_rl could select Keras 2."""


def _configure_tensorflow():
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    if "xla_cpu_multi_thread_eigen" not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                                   + " --xla_cpu_multi_thread_eigen=false").strip()
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


_configure_tensorflow()
