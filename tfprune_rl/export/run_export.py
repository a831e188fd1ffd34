"""One export of a network: a directory with two SavedModels (`serving/`, to deploy: plain
TensorFlow loads it; `saved_model/`, for TF-Agents: `action` and the other policy
signatures), optionally a .tflite file, and report.json; checked against the live greedy
policy and written whole or not at all (built in a temporary directory, then renamed over
the old one).

Both SavedModels store sparse kernels packed where that is smaller, and multiply packed where
that measures faster (`tfprune_rl.export.packed`); TFLite is converted from the dense serving
function, because TFLite's own sparse format already stores only the kept weights.
"""

import json
import os
import shutil
from typing import Callable

import numpy as np
import tensorflow as tf
from tf_agents.trajectories import time_step as ts

from tfprune_rl.export.contents import summarize
from tfprune_rl.files import temporary_path
from tfprune_rl.export.options import check_export_options
from tfprune_rl.export.packed import Serving, choose_serving
from tfprune_rl.export.saved_model import (
    greedy_q_policy, serving_function, write_saved_model, write_serving_model,
)
from tfprune_rl.export.tflite import ACTION_AGREEMENT_BOUNDS, convert_to_tflite, run_tflite
from tfprune_rl.networks import QNetwork

SAVED_MODEL = "saved_model"
SERVING_MODEL = "serving"
TFLITE_FILE = "model.tflite"
REPORT_FILE = "report.json"
# Served Q-values lie within this fraction of the live ones' scale: their largest |Q|, or the
# head's `q_scale` when larger (v_max for a categorical head).
Q_VALUE_TOLERANCE = 1e-5


class ExportCheckError(RuntimeError):
    """An exported model does not act like the network it was exported from."""


def check_finite(network: tf.keras.layers.Layer, outputs: np.ndarray) -> None:
    """Refuses a diverged network before anything is written: a weight, or an output on the
    check observations, that is not finite."""
    for variable in network.variables:
        if not np.all(np.isfinite(variable.numpy())):
            raise ExportCheckError(f"{variable.name} holds non-finite values; a diverged "
                                   "network is not exported")
    bad = ~np.isfinite(np.reshape(outputs, (len(outputs), -1))).all(axis=1)
    if bad.any():
        raise ExportCheckError(f"{network.name}'s outputs are not finite on {int(bad.sum())} "
                               f"of {len(bad)} check observations; it is not exported")


def export_network(
    q_network: QNetwork, time_step_spec, action_spec, output_dir: str, observations: np.ndarray,
    metadata: dict, train_step: int, formats=("saved_model",),
    quantize: str = "none", packing: str = "auto", serving_batch_size: int = 1,
) -> dict:
    """Exports to `output_dir` (replacing what is there only once the export is whole and checked).

    The SavedModels are always written. `observations` (real ones, from the env) check the
    exported actions and Q-values and calibrate int8 quantization. `packing` is one of
    `PACKINGS`; `auto` measures at `serving_batch_size`. Returns the report.
    """
    check_export_options(formats, quantize, packing)
    check_finite(q_network, q_network(tf.constant(observations))[0].numpy())

    def build(tmp_dir: str) -> dict:
        serving = choose_serving(q_network, packing,
                                 lambda network: serving_function(network, action_spec),
                                 observations, serving_batch_size)
        served = write_saved_models(
            serving, greedy_q_policy(serving.network, time_step_spec, action_spec), tmp_dir,
            train_step, metadata, observations)
        live = greedy_q_policy(q_network, time_step_spec, action_spec).action(
            ts.restart(tf.constant(observations), batch_size=len(observations))).action.numpy()
        if not np.array_equal(served["action"], live):
            raise ExportCheckError(
                f"the SavedModel's actions differ from the live policy's on "
                f"{int(np.sum(served['action'] != live))} of {len(live)} observations")
        live_q = q_network.q_values(q_network(tf.constant(observations))[0]).numpy()  # re-masked
        scale = max(float(np.max(np.abs(live_q))), q_network.head.q_scale,
                    float(np.finfo(np.float32).tiny))
        difference = float(np.max(np.abs(served["q_values"] - live_q))) / scale
        if difference > Q_VALUE_TOLERANCE:
            raise ExportCheckError(f"the SavedModel's Q-values differ from the live network's "
                                   f"by {difference:.3g} of their scale, above "
                                   f"{Q_VALUE_TOLERANCE:g}")
        report = saved_model_report(tmp_dir, metadata, train_step, len(observations))
        report["packing"] = {**serving.report, "max_relative_q_value_difference": difference}
        if "tflite" in formats:
            tflite_path = os.path.join(tmp_dir, TFLITE_FILE)
            with open(tflite_path, "wb") as f:
                f.write(convert_to_tflite(serving.dense_serve, serving.dense_network, quantize,
                                          observations))
            report["tflite"] = _check_tflite(tflite_path, quantize, observations, served)
        return report

    return build_export(output_dir, build)


def write_saved_models(serving: Serving, policy, export_dir: str, train_step: int,
                       metadata: dict, observations: np.ndarray) -> dict[str, np.ndarray]:
    """Writes both SavedModels of `serving` (`policy` on its network for TF-Agents); returns
    what the serving one, loaded back as a user loads it, serves on `observations`."""
    serving_dir = os.path.join(export_dir, SERVING_MODEL)
    write_serving_model(serving.network, serving.serve, serving_dir)
    write_saved_model(policy, serving.serve, os.path.join(export_dir, SAVED_MODEL), train_step,
                      metadata)
    served = tf.saved_model.load(serving_dir).signatures["serving_default"](
        observation=tf.constant(observations))
    return {name: value.numpy() for name, value in served.items()}


def build_export(output_dir: str, build: Callable[[str], dict]) -> dict:
    """`build(tmp_dir)` writes an export into a fresh temporary directory and returns its
    report; the report is added as report.json and the directory renamed over `output_dir`.
    On any error the old export stays and the temporary directory goes."""
    tmp_dir = temporary_path(output_dir.rstrip(os.sep))
    shutil.rmtree(tmp_dir, ignore_errors=True)
    try:
        os.makedirs(tmp_dir)
    except OSError as error:
        raise OSError(f"cannot write the export to {output_dir}: {error.strerror}") from None
    try:
        report = build(tmp_dir)
        with open(os.path.join(tmp_dir, REPORT_FILE), "w") as f:
            json.dump(report, f, indent=2)
        _replace_directory(tmp_dir, output_dir)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    return report


def _file_figures(summary: dict) -> dict:
    return {"bytes": summary["bytes"], "gzip_bytes": summary["gzip_bytes"],
            "sparsity": summary["weight_sparsity"]}


def saved_model_report(export_dir: str, metadata: dict, train_step: int,
                       num_observations: int) -> dict:
    """What both SavedModels hold (sparsity read from the TF-Agents one)."""
    summary = summarize(os.path.join(export_dir, SAVED_MODEL))
    layers = [t for t in summary["tensors"] if t["name"].endswith(("/kernel", "/bias"))]
    parameters = sum(int(np.prod(t["shape"])) for t in layers)
    return {
        "metadata": {**metadata, "train_step": train_step},
        "parameters": parameters,
        "dense_equivalent_bytes": 4 * parameters,
        "layer_sparsity": {t["name"].rsplit("/", 2)[-2]: t["zeros_fraction"]
                           for t in layers if t["name"].endswith("/kernel")},
        "saved_model": _file_figures(summary),
        "serving": _file_figures(summarize(os.path.join(export_dir, SERVING_MODEL))),
        "checked_on_observations": num_observations,
    }


def _check_tflite(path: str, quantize: str, observations: np.ndarray, served: dict) -> dict:
    with open(path, "rb") as f:
        outputs = run_tflite(f.read(), observations)
    agreement = float(np.mean(outputs["action"] == served["action"]))
    bound = ACTION_AGREEMENT_BOUNDS[quantize]
    if agreement < bound:
        raise ExportCheckError(
            f"the {quantize!r}-quantized TFLite model picks the SavedModel's action on "
            f"{agreement:.1%} of {len(observations)} observations, below the {bound:.0%} allowed; "
            "export without quantization or with --quantize=dynamic")
    return {
        "quantize": quantize,
        **_file_figures(summarize(path)),
        "action_agreement": agreement,
        "action_agreement_bound": bound,
        "max_abs_q_value_difference": float(np.max(np.abs(outputs["q_values"] - served["q_values"]))),
    }


def _replace_directory(new: str, target: str) -> None:
    """Renames `new` to `target`; an old `target` is moved aside first and removed last."""
    old = f"{target.rstrip(os.sep)}.old-{os.getpid()}"
    if os.path.exists(target):
        os.rename(target, old)
    os.rename(new, target)
    shutil.rmtree(old, ignore_errors=True)
