"""Exports of live pruned networks: actions, zeros in the files, no pruning state, atomicity."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from tf_agents.policies import py_tf_eager_policy
from tf_agents.specs import tensor_spec
from tf_agents.trajectories import time_step as ts

from tfprune_rl import export, pruning
from tfprune_rl.envs import random_observations
from tfprune_rl.networks import CategoricalHead, QNetwork, QuantileHead, ValueHead

METADATA = {"env_id": "CartPole-v1", "agent": "dqn", "width": 4, "target_sparsity": 0.95}


def _pruned_network(cartpole_specs, num_atoms, observations, head_scale=1.0):
    """95% sparse after its schedule, with a head whose greedy action splits `observations` in
    two: Q(s, 1) = -Q(s, 0) (action 1's weights mirror action 0's, atoms reversed for C51; set
    before pruning, magnitude masks keep the mirror), and Q(s, 0) = 0 at the median observation.

    A larger `head_scale` makes C51's distributions peaked, as they become in training, so that
    fewer observations sit on a near-tie between the two actions."""
    time_step_spec, action_spec = cartpole_specs
    tf.keras.utils.set_random_seed(num_atoms)
    updater = pruning.create_updater(
        pruning.PruningConfig(0.95, 100, "erk", pruning.PolynomialSchedule(frequency=10)))
    network = QNetwork(time_step_spec.observation, action_spec, "mlp", 4, (64, 64),
                       head=ValueHead() if num_atoms == 1 else CategoricalHead(num_atoms, 5.0),
                       layer_transform=updater.wrap)
    *hidden, head = pruning.strip(network.stack)
    rng = np.random.default_rng(num_atoms)
    kernel = (head_scale * rng.normal(size=head.kernel.shape)).astype(np.float32)
    kernel[:, num_atoms:] = -kernel[:, :num_atoms] if num_atoms == 1 else kernel[:, num_atoms - 1::-1]
    head.kernel.assign(kernel)
    for step in updater.update_steps():
        updater.update(pruning.masked_kernels(network.stack), step)
    features = observations
    for layer in hidden:
        features = layer(features)
    logits = features.numpy() @ head.kernel.numpy()[:, :num_atoms]
    support = np.linspace(-1.0, 1.0, num_atoms) if num_atoms > 1 else np.ones(1)

    def median_q(tilt):  # rises with the tilt: bisect for 0
        tilted = logits + tilt * support
        if num_atoms == 1:
            return np.median(tilted)
        probabilities = np.exp(tilted - tilted.max(axis=1, keepdims=True))
        return np.median(probabilities @ support / probabilities.sum(axis=1))

    low, high = -1e3, 1e3
    for _ in range(60):
        low, high = ((low + high) / 2, high) if median_q((low + high) / 2) < 0 else (low, (low + high) / 2)
    bias = (low + high) / 2 * support
    head.bias.assign(np.concatenate([bias, -bias if num_atoms == 1 else bias[::-1]]))
    for masked in pruning.masked_kernels(network.stack):  # pruned entries moved off zero
        kernel = masked.kernel
        kernel.assign_add(rng.normal(0.0, 1e-3, kernel.shape).astype(np.float32))
    return network


@pytest.fixture(scope="module")
def observations():
    return random_observations("CartPole-v1", True, 256, seed=0)


@pytest.fixture(scope="module", params=[1, 51], ids=["dqn", "c51"])
def exported(request, cartpole_specs, observations, tmp_path_factory):
    """A pruned network (scalar or categorical head) and its float export with TFLite."""
    network = _pruned_network(cartpole_specs, request.param, observations)
    output_dir = str(tmp_path_factory.mktemp("export") / "export")
    report = export.export_network(network, *cartpole_specs, output_dir, observations, METADATA,
                                   train_step=100, formats=("saved_model", "tflite"),
                                   packing="packed")
    return network, output_dir, report


def _live_actions(network, cartpole_specs, observations):
    policy = export.greedy_q_policy(network, *cartpole_specs)
    return policy.action(ts.restart(tf.constant(observations), batch_size=len(observations))).action.numpy()


def test_saved_model_and_tflite_act_like_the_live_policy(exported, cartpole_specs, observations):
    network, output_dir, report = exported
    live = _live_actions(network, cartpole_specs, observations)
    assert 0.3 < np.mean(live) < 0.7  # the batch exercises both actions
    saved = tf.saved_model.load(os.path.join(output_dir, "saved_model"))
    served = saved.signatures["serving_default"](observation=tf.constant(observations))
    np.testing.assert_array_equal(served["action"].numpy(), live)
    with open(os.path.join(output_dir, "model.tflite"), "rb") as f:
        lite = export.run_tflite(f.read(), observations)
    np.testing.assert_array_equal(lite["action"], live)
    assert report["tflite"]["action_agreement"] == 1.0


def test_categorical_export_serves_logits_probabilities_and_their_mean(exported, observations):
    network, output_dir, _ = exported
    saved = tf.saved_model.load(os.path.join(output_dir, "saved_model"))
    served = saved.signatures["serving_default"](observation=tf.constant(observations))
    if not isinstance(network.head, CategoricalHead):
        assert sorted(served) == ["action", "q_values"]
        return
    assert sorted(served) == ["action", "logits", "probabilities", "q_values"]
    logits, _ = network(observations)
    np.testing.assert_allclose(served["logits"].numpy(), logits.numpy(), rtol=1e-5, atol=1e-6)
    expected_q = np.sum(tf.nn.softmax(logits).numpy() * np.linspace(-5.0, 5.0, 51), axis=-1)
    np.testing.assert_allclose(served["q_values"].numpy(), expected_q, rtol=1e-5, atol=1e-6)


def test_tf_agents_loads_the_export_as_a_policy(exported, cartpole_specs, observations):
    network, output_dir, _ = exported
    policy = py_tf_eager_policy.SavedModelPyTFEagerPolicy(
        os.path.join(output_dir, "saved_model"), load_specs_from_pbtxt=True, batch_time_steps=False)
    time_steps = ts.restart(observations, batch_size=len(observations))
    np.testing.assert_array_equal(policy.action(time_steps).action,
                                  _live_actions(network, cartpole_specs, observations))
    assert policy.get_train_step() == 100
    assert policy.get_initial_state(batch_size=3) == ()
    metadata = policy.get_metadata()
    assert metadata["env_id"] == b"CartPole-v1" and metadata["width"] == 4


def test_exported_zeros_equal_the_live_masks(exported):
    network, output_dir, report = exported
    masks = {k.name: k.mask.numpy() for k in pruning.masked_kernels(network.stack)}
    kernels = export.saved_kernels(os.path.join(output_dir, "saved_model"))
    assert sorted(kernels) == ["hidden_0", "hidden_1", "q_values"]
    for name, mask in masks.items():
        np.testing.assert_array_equal(kernels[name] == 0, mask == 0)
        assert report["layer_sparsity"][name] == pytest.approx(np.mean(mask == 0))
    # TFLite stores dense kernels transposed, [out, in]; compare the zeros of each tensor.
    lite = [t for t in export.stored_tensors(os.path.join(output_dir, "model.tflite")) if t.is_weight]
    assert sorted((t.shape[::-1], t.zeros) for t in lite) == sorted(
        (kernel.shape, int(np.sum(kernel == 0))) for kernel in kernels.values())
    assert report["tflite"]["sparsity"] == pytest.approx(report["saved_model"]["sparsity"])
    assert report["saved_model"]["sparsity"] == pytest.approx(0.95, abs=1e-4)


def test_sparse_layers_are_stored_and_served_packed(exported, observations):
    """Every layer packing makes smaller is stored as its kept values and their positions, and
    the compiled serving function computes with them: Q-values within 1e-5 of the live ones."""
    network, output_dir, report = exported
    saved_model = os.path.join(output_dir, "saved_model")
    stored = {t.name: t for t in export.stored_tensors(saved_model)}
    packed = [name for name, layer in report["packing"]["layers"].items() if layer["packed"]]
    assert report["packing"]["format"] == "packed" and "hidden_1" in packed
    for name, layer in report["packing"]["layers"].items():
        tensor = stored[f"{name}/kernel"]
        assert tensor.format == ("packed" if layer["packed"] else "dense")
        assert layer["packed"] == (layer["packed_bytes"] < layer["dense_bytes"])
        if layer["packed"]:
            assert tensor.bytes == layer["packed_bytes"] < tensor.size * 4
    variables = export.saved_variables(saved_model)
    assert "hidden_1/kernel" not in " ".join(variables) and "hidden_1/packed_values" in " ".join(variables)
    live_q = network.q_values(network(tf.constant(observations))[0]).numpy()
    served = tf.saved_model.load(saved_model).signatures["serving_default"](
        observation=tf.constant(observations))["q_values"].numpy()
    np.testing.assert_allclose(served, live_q, rtol=0, atol=1e-5 * np.abs(live_q).max())
    assert report["packing"]["max_relative_q_value_difference"] <= 1e-5


def test_iqn_export_serves_the_mean_over_its_fixed_fractions(cartpole_specs, observations,
                                                            tmp_path):
    """IQN's served Q is the mean of its quantiles on the grid (i + 0.5) / 32, so the
    `serving_default` and `action` signatures give the live greedy policy's actions."""
    time_step_spec, action_spec = cartpole_specs
    tf.keras.utils.set_random_seed(3)
    updater = pruning.create_updater(
        pruning.PruningConfig(0.95, 100, "erk", pruning.PolynomialSchedule(frequency=10)))
    network = QNetwork(time_step_spec.observation, action_spec, "mlp", 4, (64, 64),
                       head=QuantileHead(), layer_transform=updater.wrap)
    for step in updater.update_steps():
        updater.update(pruning.masked_kernels(network.stack), step)
    output_dir = str(tmp_path / "export")
    report = export.export_network(network, *cartpole_specs, output_dir, observations, METADATA,
                                   train_step=100, packing="packed")
    live = _live_actions(network, cartpole_specs, observations)
    assert 0.05 < np.mean(live) < 0.95  # the batch exercises both actions
    saved_model = os.path.join(output_dir, "saved_model")
    served = tf.saved_model.load(saved_model).signatures["serving_default"](
        observation=tf.constant(observations))
    assert sorted(served) == ["action", "q_values"]
    np.testing.assert_array_equal(served["action"].numpy(), live)
    policy = py_tf_eager_policy.SavedModelPyTFEagerPolicy(
        saved_model, load_specs_from_pbtxt=True, batch_time_steps=False)
    np.testing.assert_array_equal(
        policy.action(ts.restart(observations, batch_size=len(observations))).action, live)
    grid = np.tile((np.arange(32) + 0.5) / 32, (len(observations), 1)).astype(np.float32)
    by_hand = network.quantiles(tf.constant(observations), tf.constant(grid)).numpy().mean(axis=1)
    np.testing.assert_allclose(served["q_values"].numpy(), by_hand, rtol=1e-5, atol=1e-6)
    kernels = export.saved_kernels(saved_model)
    assert sorted(kernels) == ["hidden_0", "hidden_1", "q_values", "quantile_embedding"]
    zeros = sum(int(np.sum(k == 0)) for k in kernels.values())
    assert zeros / sum(k.size for k in kernels.values()) == pytest.approx(0.95, abs=0.005)
    assert report["saved_model"]["sparsity"] == pytest.approx(0.95, abs=0.005)


def test_export_holds_no_pruning_state(exported):
    _, output_dir, _ = exported
    saved_model = os.path.join(output_dir, "saved_model")
    names = " ".join(name for name, _ in tf.train.list_variables(os.path.join(saved_model, "variables", "variables")))
    names += " ".join(export.saved_variables(saved_model))
    with open(os.path.join(saved_model, "saved_model.pb"), "rb") as f:
        graph = f.read()
    with open(os.path.join(output_dir, "model.tflite"), "rb") as f:
        lite = f.read()
    # TF-MOT's variables are <layer>/mask, <layer>/threshold, <layer>/pruning_step (ops such
    # as StridedSlice have attributes like begin_mask: those are not pruning state).
    pruning_state = re.compile(rb"(?<![a-z_])(mask|threshold|pruning_step|prune_low_magnitude)")
    for content in (graph, lite, names.encode()):
        assert not pruning_state.search(content)


def test_report_figures_come_from_the_files(exported):
    _, output_dir, report = exported
    with open(os.path.join(output_dir, "report.json")) as f:
        assert json.load(f) == report
    assert report["metadata"] == {**METADATA, "train_step": 100}
    kernels = export.saved_kernels(os.path.join(output_dir, "saved_model"))
    weights = sum(k.size for k in kernels.values())
    biases = sum(k.shape[-1] for k in kernels.values())
    assert report["dense_equivalent_bytes"] == 4 * (weights + biases)
    saved = report["saved_model"]
    assert saved["bytes"] == export.disk_bytes(os.path.join(output_dir, "saved_model"))
    stored = [t for t in export.stored_tensors(os.path.join(output_dir, "saved_model")) if t.is_weight]
    assert sum(t.bytes for t in stored) < 4 * weights / 4  # kept weights only
    assert report["tflite"]["bytes"] == os.path.getsize(os.path.join(output_dir, "model.tflite"))


@pytest.mark.parametrize("quantize", ["dynamic", "int8"])
@pytest.mark.parametrize("num_atoms", [1, 51], ids=["dqn", "c51"])
def test_quantized_tflite_agrees_with_the_live_policy_above_its_bound(
        num_atoms, quantize, cartpole_specs, observations, tmp_path):
    network = _pruned_network(cartpole_specs, num_atoms, observations, head_scale=5.0)
    output_dir = str(tmp_path / "export")
    report = export.export_network(network, *cartpole_specs, output_dir, observations, METADATA,
                                   train_step=100, formats=("tflite",), quantize=quantize)
    with open(os.path.join(output_dir, "model.tflite"), "rb") as f:
        lite = export.run_tflite(f.read(), observations)
    agreement = np.mean(lite["action"] == _live_actions(network, cartpole_specs, observations))
    assert agreement == report["tflite"]["action_agreement"] >= export.ACTION_AGREEMENT_BOUNDS[quantize]
    int8_weights = [t for t in export.stored_tensors(os.path.join(output_dir, "model.tflite"))
                    if t.is_weight and t.dtype == "int8"]
    assert int8_weights  # weights really are quantized
    assert report["tflite"]["bytes"] < report["saved_model"]["bytes"]


def test_export_below_the_agreement_bound_is_refused_and_writes_nothing(
        cartpole_specs, observations, tmp_path):
    """C51 with flat distributions: int8 steps of 1/256 in each probability flip near-ties."""
    network = _pruned_network(cartpole_specs, 51, observations)
    with pytest.raises(export.ExportCheckError, match=r"the 'int8'-quantized TFLite model picks "
                       r"the SavedModel's action on \d+\.\d% of 256 observations, below the 90% allowed"):
        export.export_network(network, *cartpole_specs, str(tmp_path / "export"), observations,
                              METADATA, train_step=100, formats=("tflite",),
                              quantize="int8")
    assert os.listdir(tmp_path) == []


def test_failed_export_leaves_the_previous_one_whole(cartpole_specs, observations, tmp_path, monkeypatch):
    network = _pruned_network(cartpole_specs, 1, observations)
    output_dir = str(tmp_path / "export")
    export.export_network(network, *cartpole_specs, output_dir, observations, METADATA, 100)
    before = {path: os.path.getmtime(os.path.join(output_dir, path))
              for path in ("report.json", "saved_model/saved_model.pb")}

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("tfprune_rl.export.run_export.convert_to_tflite", crash)
    with pytest.raises(OSError, match="disk full"):
        export.export_network(network, *cartpole_specs, output_dir, observations, METADATA, 200,
                              formats=("saved_model", "tflite"))
    assert sorted(os.listdir(tmp_path)) == ["export"]  # no temporary directory left
    assert {path: os.path.getmtime(os.path.join(output_dir, path)) for path in before} == before
    assert not os.path.exists(os.path.join(output_dir, "model.tflite"))


@pytest.mark.parametrize("formats, quantize, message", [
    (("onnx",), "none", "unsupported format onnx; choose from saved_model, tflite"),
    (("saved_model",), "fp16", "unsupported quantization 'fp16'; choose one of none, dynamic, int8"),
    (("saved_model",), "int8", "quantization 'int8' applies to the tflite format only"),
])
def test_bad_export_options_are_refused(formats, quantize, message):
    with pytest.raises(ValueError, match=message):
        export.check_export_options(formats, quantize)


# What a user of each SavedModel runs in a fresh Python: argv = SavedModel, observations .npy,
# outputs .npz. Plain TensorFlow, then TF-Agents (with Keras 2, as TF-Agents asks).
_PLAIN_TF_USER = """
import sys
import numpy as np
import tensorflow as tf
serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
served = serve(observation=tf.constant(np.load(sys.argv[2])))
np.savez(sys.argv[3], **{name: value.numpy() for name, value in served.items()})
others = sorted({m.split(".")[0] for m in sys.modules} & {"tensorflow_probability", "tf_agents", "tfprune_rl"})
assert not others, others
"""
_TF_AGENTS_USER = """
import sys
import numpy as np
import tensorflow as tf
from tf_agents.trajectories import time_step as ts
policy = tf.saved_model.load(sys.argv[1])
observations = np.load(sys.argv[2])
step = policy.action(ts.restart(tf.constant(observations), batch_size=len(observations)))
np.savez(sys.argv[3], action=step.action.numpy())
"""


def _fresh_python(script: str, saved_model: str, observations: np.ndarray, tmp_path,
                  **environment) -> dict:
    np.save(tmp_path / "observations.npy", observations)
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"} | environment
    subprocess.run([sys.executable, "-c", script, saved_model, str(tmp_path / "observations.npy"),
                    str(tmp_path / "outputs.npz")], env=env, check=True, cwd=tmp_path,
                   capture_output=True)
    return dict(np.load(tmp_path / "outputs.npz"))


def test_plain_tensorflow_serves_the_serving_model_and_tf_agents_the_policy(
        exported, cartpole_specs, observations, tmp_path):
    """In fresh processes: `serving/` loads with only TensorFlow imported (no TFP, no
    TF-Agents, no environment variable), `saved_model/`'s `action` with TF-Agents."""
    network, output_dir, _ = exported
    live = _live_actions(network, cartpole_specs, observations)
    served = _fresh_python(_PLAIN_TF_USER, os.path.join(output_dir, "serving"), observations,
                           tmp_path)
    np.testing.assert_array_equal(served["action"], live)
    live_q = network.q_values(network(tf.constant(observations))[0]).numpy()
    np.testing.assert_allclose(served["q_values"], live_q, rtol=1e-5, atol=1e-5)
    acted = _fresh_python(_TF_AGENTS_USER, os.path.join(output_dir, "saved_model"),
                          observations, tmp_path, TF_USE_LEGACY_KERAS="1")
    np.testing.assert_array_equal(acted["action"], live)


def test_sparse_convolutions_are_stored_packed_and_rebuilt_when_the_model_loads(tmp_path):
    """A 95% MinAtar network (every kernel 95%): its convolution and dense kernels are stored as
    their kept values (the files hold no dense copy), and plain TensorFlow in a fresh process
    serves the live Q-values from them."""
    observation_spec = tf.TensorSpec((10, 10, 4), tf.float32)
    action_spec = tensor_spec.BoundedTensorSpec((), tf.int64, 0, 2)
    updater = pruning.create_updater(
        pruning.PruningConfig(0.95, 100, "uniform", pruning.PolynomialSchedule(frequency=10)))
    tf.keras.utils.set_random_seed(3)
    network = QNetwork(observation_spec, action_spec, "minatar", 2,
                       layer_transform=updater.wrap)
    for step in updater.update_steps():
        updater.update(pruning.masked_kernels(network.stack), step)
    observations = np.random.default_rng(0).integers(0, 2, (64, 10, 10, 4)).astype(np.float32)
    report = export.export_network(network, ts.time_step_spec(observation_spec), action_spec,
                                   str(tmp_path / "export"), observations, METADATA, 100)
    serving = str(tmp_path / "export" / "serving")
    stored = {t.name.rsplit("/", 2)[-2]: t for t in export.stored_tensors(serving) if t.is_weight}
    masks = {k.name: k.mask.numpy() for k in pruning.masked_kernels(network.stack)}
    assert set(masks) <= set(stored) and any(len(m.shape) == 4 for m in masks.values())
    for name, mask in masks.items():
        assert stored[name].format == "packed" and stored[name].bytes < mask.size * 4 / 5, name
        assert stored[name].zeros == int(np.sum(mask == 0)), name
    assert report["serving"]["bytes"] == export.disk_bytes(serving)
    served = _fresh_python(_PLAIN_TF_USER, serving, observations, tmp_path / "")
    live_q = network.q_values(network(tf.constant(observations))[0]).numpy()
    np.testing.assert_allclose(served["q_values"], live_q, rtol=1e-5, atol=1e-5)
