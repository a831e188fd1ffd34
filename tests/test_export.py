import os

import numpy as np
import pytest
import tensorflow as tf
from tf_agents.policies import categorical_q_policy, greedy_policy, q_policy
from tf_agents.trajectories import time_step as ts

from tfprune_rl import pruning
from tfprune_rl.export import export_saved_model, saved_kernels
from tfprune_rl.networks import QNetwork


@pytest.fixture(scope="module")
def pruned_network(cartpole_specs):
    time_step_spec, action_spec = cartpole_specs
    config = pruning.PruningConfig(0.95, 100, "erk", pruning.GradualSchedule(frequency=10))
    network = QNetwork(time_step_spec.observation, action_spec, "mlp", 4, (64, 64),
                       layer_transform=config.wrap)
    network.create_variables()
    wrappers = pruning.pruning_wrappers(network.stack)
    for step in range(1, 101):
        pruning.update_masks(wrappers, step)
    for wrapper in wrappers:  # as after an optimizer step: pruned entries moved off zero
        wrapper.layer.kernel.assign_add(tf.fill(wrapper.layer.kernel.shape, 1e-3))
    return network


def test_exported_kernels_hold_the_live_masks_zeros(pruned_network, cartpole_specs, tmp_path):
    path = str(tmp_path / "saved_model")
    export_saved_model(pruned_network, cartpole_specs[1], path)
    kernels = saved_kernels(path)
    masks = {w.layer.name: w.pruning_vars[0][1].numpy() for w in pruning.pruning_wrappers(pruned_network.stack)}
    assert sorted(kernels) == ["hidden_0", "hidden_1", "q_values"]
    for name, mask in masks.items():
        np.testing.assert_array_equal(kernels[name] == 0, mask == 0)
    total_zeros = sum(int(np.sum(k == 0)) for k in kernels.values())
    assert total_zeros / sum(k.size for k in kernels.values()) == pytest.approx(0.95, abs=1e-4)


def test_export_holds_no_pruning_state(pruned_network, cartpole_specs, tmp_path):
    path = str(tmp_path / "saved_model")
    export_saved_model(pruned_network, cartpole_specs[1], path)
    names = " ".join(name for name, _ in tf.train.list_variables(os.path.join(path, "variables", "variables")))
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        graph = f.read()
    for word in (b"mask", b"threshold", b"pruning_step", b"prune_low_magnitude"):
        assert word not in graph and word.decode() not in names


def test_reloaded_model_acts_like_the_live_greedy_policy(pruned_network, cartpole_specs, tmp_path):
    time_step_spec, action_spec = cartpole_specs
    path = str(tmp_path / "saved_model")
    export_saved_model(pruned_network, action_spec, path)
    observations = np.random.default_rng(0).normal(size=(256, 4)).astype(np.float32)
    policy = greedy_policy.GreedyPolicy(
        q_policy.QPolicy(time_step_spec, action_spec, q_network=pruned_network))
    live = policy.action(ts.restart(observations, batch_size=256)).action.numpy()
    served = tf.saved_model.load(path).signatures["serving_default"](observation=observations)
    np.testing.assert_array_equal(served["action"].numpy(), live)
    assert len(set(live.tolist())) == 2  # the batch exercises both actions


def test_failed_export_leaves_the_previous_one_whole(pruned_network, cartpole_specs, tmp_path, monkeypatch):
    path = str(tmp_path / "saved_model")
    export_saved_model(pruned_network, cartpole_specs[1], path)
    before = sorted(os.listdir(path))

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(tf.saved_model, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        export_saved_model(pruned_network, cartpole_specs[1], path)
    assert sorted(os.listdir(path)) == before
    assert saved_kernels(path)


def test_categorical_export_serves_the_mean_of_each_distribution(cartpole_specs, tmp_path):
    time_step_spec, action_spec = cartpole_specs
    network = QNetwork(time_step_spec.observation, action_spec, "mlp", 1, (32,), num_atoms=51)
    network.create_variables()
    path = str(tmp_path / "saved_model")
    export_saved_model(network, action_spec, path, v_max=5.0)
    observations = np.random.default_rng(1).normal(size=(64, 4)).astype(np.float32)
    logits, _ = network(observations)
    support = np.linspace(-5.0, 5.0, 51)
    expected = np.sum(tf.nn.softmax(logits).numpy() * support, axis=-1)
    served = tf.saved_model.load(path).signatures["serving_default"](observation=observations)
    np.testing.assert_allclose(served["q_values"].numpy(), expected, rtol=1e-5, atol=1e-6)
    policy = greedy_policy.GreedyPolicy(categorical_q_policy.CategoricalQPolicy(
        time_step_spec, action_spec, network, -5.0, 5.0))
    live = policy.action(ts.restart(observations, batch_size=64)).action.numpy()
    np.testing.assert_array_equal(served["action"].numpy(), live)
