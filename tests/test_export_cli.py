"""tfprune-export and tfprune-inspect on a real run, through their command lines."""

import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import cli
from tfprune_rl import export, export_cli, inspect_cli, pruning
from tfprune_rl.entry_points import load_run_config
from tfprune_rl.envs import random_observations
from tfprune_rl.value_based.build import restore_q_network

pytestmark = pytest.mark.slow

EXPORT = "tfprune_rl.export_cli"
INSPECT = "tfprune_rl.inspect_cli"


@pytest.fixture(scope="module")
def run_dir(default_runs):
    """The default run: 49,000 updates, checkpoints at env steps 45,000 and 50,000 kept."""
    return default_runs[0]["pruned"]


@pytest.fixture(scope="module")
def mid_export(run_dir, tmp_path_factory):
    output_dir = str(tmp_path_factory.mktemp("mid") / "export")
    result = cli.run(f"--run_dir={run_dir}", "--checkpoint=45000", f"--output_dir={output_dir}",
                     "--packing=packed", module=EXPORT)
    assert result.returncode == 0, result.stderr[-3000:]
    return output_dir, result.stdout


def _snapshot(directory):
    return {os.path.join(root, name): os.path.getmtime(os.path.join(root, name))
            for root, _, names in os.walk(directory) for name in names}


def test_export_from_a_mid_training_checkpoint(run_dir, mid_export):
    output_dir, stdout = mid_export
    assert f"exported env step 45,000 (update 44,000) of {run_dir}" in stdout
    assert "stored packed: hidden_1; multiplied packed: hidden_1" in stdout  # others too dense
    assert re.search(r"^batch 32: [\d.]+ ms packed, [\d.]+ ms dense$", stdout, re.M)
    with open(os.path.join(output_dir, "report.json")) as f:
        report = json.load(f)
    assert report["metadata"]["env_step"] == 45_000 and report["metadata"]["train_step"] == 44_000
    saved = tf.saved_model.load(os.path.join(output_dir, "saved_model"))
    assert int(saved.get_train_step()) == 44_000
    network, *_ = restore_q_network(load_run_config(run_dir), 45_000)
    kernels = export.saved_kernels(os.path.join(output_dir, "saved_model"))
    for kernel in pruning.masked_kernels(network.stack):
        np.testing.assert_array_equal(kernels[kernel.name] == 0, kernel.mask.numpy() == 0)
    assert report["saved_model"]["sparsity"] == pytest.approx(0.95, abs=1e-4)
    final = export.saved_kernels(os.path.join(run_dir, "export", "saved_model"))
    assert any(not np.array_equal(kernels[name], final[name]) for name in kernels)  # not the end
    assert report["tflite"]["action_agreement"] == 1.0
    assert os.path.getsize(os.path.join(output_dir, "model.tflite")) == report["tflite"]["bytes"]


@pytest.fixture(scope="module")
def tool_outputs(mid_export, tmp_path_factory):
    """What saved_model_cli show --all, saved_model_cli run (on 16 observations) and
    tfprune-inspect --json print for the mid-training export, run side by side."""
    saved_model = os.path.join(mid_export[0], "saved_model")
    observations = random_observations("CartPole-v1", True, 16, seed=3)
    observations_path = tmp_path_factory.mktemp("inputs") / "observations.npy"
    np.save(observations_path, observations)
    saved_model_cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    processes = {
        "show": subprocess.Popen([saved_model_cli, "show", "--all", "--dir", saved_model],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
        "run": subprocess.Popen([saved_model_cli, "run", "--dir", saved_model, "--tag_set", "serve",
                                 "--signature_def", "serving_default",
                                 "--inputs", f"observation={observations_path}"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
        "inspect": cli.start(saved_model, "--json", module=INSPECT),
    }
    outputs = {name: cli.wait(process) for name, process in processes.items()}
    for output in outputs.values():
        assert output.returncode == 0, output.stderr[-3000:]
    return {name: output.stdout for name, output in outputs.items()}, observations


def test_saved_model_cli_shows_and_runs_the_export(mid_export, tool_outputs):
    outputs, observations = tool_outputs
    for signature in ("serving_default", "action", "get_initial_state", "get_train_step",
                      "get_metadata"):
        assert f"signature_def['{signature}']" in outputs["show"]
    printed = outputs["run"].split("Result for output key action:")[1].split("Result for")[0]
    expected = tf.saved_model.load(os.path.join(mid_export[0], "saved_model")).signatures[
        "serving_default"](observation=tf.constant(observations))["action"].numpy()
    assert np.array(printed.strip().strip("[]").split(), dtype=np.int64).tolist() == expected.tolist()


def _run_in_process(entry_point, *args) -> str:
    """What `entry_point.main` prints, or the message it exits with; flags parsed as absl does."""
    argv = entry_point.FLAGS(["prog", *args])
    try:
        entry_point.main(argv)
    except SystemExit as exit:
        return str(exit.code)
    finally:
        entry_point.FLAGS.unparse_flags()
    return ""


def test_inspect_reads_both_formats(mid_export, tool_outputs, capsys):
    output_dir, _ = mid_export
    with open(os.path.join(output_dir, "report.json")) as f:
        report = json.load(f)
    summary = json.loads(tool_outputs[0]["inspect"])
    assert summary["weight_sparsity"] == pytest.approx(report["saved_model"]["sparsity"])
    assert summary["gzip_bytes"] == report["saved_model"]["gzip_bytes"]
    kernel = next(t for t in summary["tensors"] if t["name"] == "hidden_1/kernel")
    stored = export.saved_kernels(os.path.join(output_dir, "saved_model"))["hidden_1"]
    assert kernel["shape"] == [64 * 4, 64 * 4] and kernel["format"] == "packed"
    assert kernel["bytes"] == export.pack(stored).nbytes < 256 * 256 * 4 / 4
    assert kernel["zeros_fraction"] == pytest.approx(report["layer_sparsity"]["hidden_1"])
    assert _run_in_process(inspect_cli, os.path.join(output_dir, "model.tflite")) == ""
    last_lines = capsys.readouterr().out.strip().splitlines()[-2:]
    assert last_lines[0].startswith(f"weight sparsity {report['tflite']['sparsity']:.4f} over")
    assert last_lines[1] == (f"size {report['tflite']['bytes']:,} bytes, "
                             f"{report['tflite']['gzip_bytes']:,} gzipped")
    assert _run_in_process(inspect_cli, os.path.join(output_dir, "report.json")) == (
        f"tfprune-inspect: error: {output_dir}/report.json is neither a SavedModel directory "
        "(with saved_model.pb) nor a .tflite file")


def test_bad_input_fails_with_one_line_and_leaves_exports_untouched(run_dir, tmp_path):
    no_checkpoints = tmp_path / "no_checkpoints"
    no_checkpoints.mkdir()
    shutil.copy(os.path.join(run_dir, "flags.txt"), no_checkpoints)
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    checkpoint_dir = os.path.join(run_dir, "checkpoints")
    cases = {
        f"run_dir {no_checkpoints} has no checkpoints": [f"--run_dir={no_checkpoints}"],
        f"run_dir {tmp_path} holds no run (no flags.txt)": [f"--run_dir={tmp_path}"],
        f"checkpoint=1234 is not in {checkpoint_dir}; choose latest or one of 45000, 50000": [
            f"--run_dir={run_dir}", "--checkpoint=1234"],
        "unsupported format onnx; choose from saved_model, tflite": [
            f"--run_dir={run_dir}", "--format=onnx"],
        "unsupported quantization 'fp16'; choose one of none, dynamic, int8": [
            f"--run_dir={run_dir}", "--quantize=fp16"],
        "unsupported packing 'csr'; choose one of auto, packed, dense": [
            f"--run_dir={run_dir}", "--packing=csr"],
        f"cannot write the export to {a_file}/export: Not a directory": [
            f"--run_dir={run_dir}", f"--output_dir={a_file}/export"],
    }
    before = _snapshot(run_dir)
    process = cli.start(*cases[next(iter(cases))], module=EXPORT)  # one as a user sees it
    for message, args in cases.items():
        assert _run_in_process(export_cli, *args).startswith(f"tfprune-export: error: {message}")
    result = cli.wait(process)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"tfprune-export: error: run_dir {no_checkpoints} has no checkpoints "
        f"({no_checkpoints}/checkpoints holds none)")
    assert _snapshot(run_dir) == before
    assert sorted(os.listdir(tmp_path)) == ["a_file", "no_checkpoints"]


def test_inspect_refuses_a_corrupted_packed_export_in_one_line(mid_export, tmp_path):
    copy = tmp_path / "saved_model"
    shutil.copytree(os.path.join(mid_export[0], "saved_model"), copy)
    data = next((copy / "variables").glob("variables.data-*"))
    content = bytearray(data.read_bytes())
    content[len(content) // 2] ^= 0xFF
    data.write_bytes(bytes(content))
    message = _run_in_process(inspect_cli, str(copy))
    assert message.startswith(f"tfprune-inspect: error: cannot read {copy}: ")
    assert "Checksum does not match" in message
    assert "\n" not in message
