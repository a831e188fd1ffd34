"""TFLite conversion with TF-MOT's sparsity optimization, and running a converted model.

`EXPERIMENTAL_SPARSITY` stores sparse kernels in TFLite's sparse format. Quantization:
`dynamic` (int8 weights, float activations) or `int8` (int8 weights and activations calibrated
on representative observations, float inputs and outputs, float kernels where an op has no
int8 version).

Models run on TFLite's reference kernels: the default XNNPACK delegate refuses sparse conv
kernels with dynamic-range quantization ("failed to delegate CONV_2D").
"""

import numpy as np
import tensorflow as tf

from tfprune_rl.export.options import QUANTIZATIONS

# Least fraction of observations on which the .tflite model must pick the SavedModel's action.
# Float models differ from TensorFlow by rounding only; quantized ones may flip near-ties.
ACTION_AGREEMENT_BOUNDS = {"none": 1.0, "dynamic": 0.9, "int8": 0.9}


def convert_to_tflite(serve, network, quantize: str, observations: np.ndarray) -> bytes:
    """Converts the tf.function `serve` (observation -> outputs) of `network` as the
    `serving_default` signature; `int8` calibrates on `observations`."""
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"unknown quantization {quantize!r}; choose one of {', '.join(QUANTIZATIONS)}")
    holder = tf.Module()  # the converter finds the variables through it
    holder.serve, holder.network = serve, network
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [serve.get_concrete_function()], holder)
    converter.optimizations = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
    if quantize != "none":
        converter.optimizations.append(tf.lite.Optimize.DEFAULT)
    if quantize == "int8":
        converter.representative_dataset = lambda: ([observation[None]] for observation in observations)
    return converter.convert()


def run_tflite(model: bytes, observations: np.ndarray) -> dict[str, np.ndarray]:
    """The `serving_default` outputs of a .tflite model on a batch of observations."""
    interpreter = tf.lite.Interpreter(
        model_content=model,
        experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    return interpreter.get_signature_runner("serving_default")(observation=observations)
