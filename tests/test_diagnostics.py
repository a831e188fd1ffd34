"""Plasticity diagnostics against hand-computed values, and measuring leaves the agent as it was."""

import os

import numpy as np
import pytest
import tensorflow as tf
from tf_agents.specs import tensor_spec

from tfprune_rl import diagnostics, pruning
from tfprune_rl.agents import DqnHyperparams, create_agent, make_optimizer
from tfprune_rl.networks import CategoricalHead, QNetwork, ValueHead
from tfprune_rl.pruning import strip
from tfprune_rl.lifecycle.jsonl_log import JsonlLog
from tfprune_rl.value_based.learner import as_transition

OBSERVATION = tensor_spec.TensorSpec((3,), tf.float32)
ACTIONS = tensor_spec.BoundedTensorSpec((), tf.int64, np.int64(0), np.int64(1))


def test_srank_counts_singular_values_up_to_99_percent_of_their_sum():
    rotation, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(6, 6)))
    # singular values 50, 30, 19, 0.9, 0.1: cumulative shares .50, .80, .99, .999, 1
    features = rotation[:, :5] @ np.diag([50.0, 30.0, 19.0, 0.9, 0.1])
    assert diagnostics.srank(features) == 3
    assert diagnostics.srank(features, delta=0.001) == 4
    assert diagnostics.srank(features, delta=0.25) == 2


def test_srank_of_rank_deficient_and_zero_features():
    rank_one = np.outer([1.0, 2.0, 3.0, 4.0], [1.0, -1.0, 0.5])
    assert diagnostics.srank(rank_one) == 1
    two_copies = np.hstack([np.eye(4)[:, :2], np.eye(4)[:, :2]])  # 4 x 4, rank 2
    assert diagnostics.srank(two_copies) == 2
    assert diagnostics.srank(np.zeros((8, 5))) == 0


def test_dormant_scores_average_over_batch_and_space_then_normalize_by_the_layer():
    dense = np.array([[0.0, 2.0, 4.0], [0.0, -2.0, 8.0]])  # mean |h|: 0, 2, 6; layer mean 8/3
    np.testing.assert_allclose(diagnostics.neuron_scores(dense), [0.0, 0.75, 2.25])
    np.testing.assert_array_equal(diagnostics.dormant_neurons(dense, 0.0), [0])
    np.testing.assert_array_equal(diagnostics.dormant_neurons(dense, 0.75), [0, 1])
    conv = np.zeros((2, 2, 2, 2))  # (batch, height, width, channels)
    conv[0, 0, 0, 0] = 8.0  # channel 0: mean |h| = 1 over 8 positions; channel 1: 0.125
    conv[1, 1, 1, 1] = 1.0
    np.testing.assert_allclose(diagnostics.neuron_scores(conv), [1 / 0.5625, 0.125 / 0.5625])
    np.testing.assert_array_equal(diagnostics.dormant_neurons(conv, 0.25), [1])


def test_an_all_dead_layer_is_entirely_dormant():
    np.testing.assert_array_equal(diagnostics.neuron_scores(np.zeros((4, 3))), [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(diagnostics.dormant_neurons(np.zeros((4, 3)), 0.0), [0, 1, 2])


def _network(head=ValueHead(), transform=None, normalize=False):
    tf.keras.utils.set_random_seed(0)
    return QNetwork(OBSERVATION, ACTIONS, "mlp", 1, (8, 4), head, transform, normalize)


def _kill(layer, units):
    """Zero incoming weights and a negative bias: these units output 0 for every input."""
    kernel, bias = layer.get_weights()
    kernel[:, units], bias[units] = 0.0, -1.0
    layer.set_weights([kernel, bias])


def test_measure_on_a_network_with_known_dead_units():
    network = _network()
    hidden_0, hidden_1, head = strip(network.stack)
    _kill(hidden_0, [1, 5, 6])
    observations = np.random.default_rng(1).normal(size=(64, 3)).astype(np.float32)
    values = diagnostics.measure(network, observations)

    probe = network.probe(observations)
    live_1 = int(np.sum(np.abs(probe.activations["hidden_1"].numpy()).mean(axis=0) > 0))
    assert values["diagnostics/dormant_tau_0/hidden_0"] == 3 / 8
    assert values["diagnostics/dormant_tau_0/hidden_1"] == (4 - live_1) / 4
    assert values["diagnostics/dormant_tau_0/all"] == (3 + 4 - live_1) / 12
    for tau in (0.025, 0.1):
        assert values[f"diagnostics/dormant_tau_{tau:g}/hidden_0"] >= 3 / 8
    q = network(observations)[0].numpy().astype(np.float64)
    assert values["diagnostics/q_variance"] == pytest.approx(np.var(q))
    assert values["diagnostics/q_norm"] == pytest.approx(np.mean(np.sqrt(np.sum(q**2, axis=1))))
    weights = [w for layer in (hidden_0, hidden_1, head) for w in layer.get_weights()]
    assert values["diagnostics/param_norm"] == pytest.approx(
        np.sqrt(sum(np.sum(w.astype(np.float64) ** 2) for w in weights)))
    assert values["diagnostics/srank"] == diagnostics.srank(probe.features.numpy())


def test_all_dead_features_have_srank_zero_and_every_neuron_dormant():
    network = _network()
    _kill(strip(network.stack)[1], [0, 1, 2, 3])
    observations = np.ones((16, 3), np.float32)
    values = diagnostics.measure(network, observations)
    assert values["diagnostics/srank"] == 0
    assert values["diagnostics/dormant_tau_0/hidden_1"] == 1.0
    assert values["diagnostics/q_variance"] == pytest.approx(
        np.var(strip(network.stack)[2].bias.numpy()), abs=1e-12)  # Q = head bias everywhere


def test_categorical_head_is_measured_on_its_expected_q():
    network = _network(head=CategoricalHead(51, 10.0))
    observations = np.random.default_rng(2).normal(size=(32, 3)).astype(np.float32)
    values = diagnostics.measure(network, observations)
    probabilities = tf.nn.softmax(network(observations)[0]).numpy()
    q = np.sum(probabilities * np.linspace(-10, 10, 51), axis=-1)
    assert values["diagnostics/q_variance"] == pytest.approx(np.var(q), rel=1e-5)


def test_l2_normalized_features_have_unit_norm_and_feed_the_head():
    network = _network(normalize=True)
    observations = np.random.default_rng(3).normal(size=(16, 3)).astype(np.float32)
    probe = network.probe(observations)
    hidden = probe.activations["hidden_1"].numpy()
    norms = np.linalg.norm(hidden, axis=1)
    assert norms.min() > 0
    np.testing.assert_allclose(np.linalg.norm(probe.features.numpy(), axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(probe.features.numpy(), hidden / norms[:, None], rtol=1e-6)
    np.testing.assert_allclose(network(observations)[0].numpy(), probe.outputs.numpy())
    copy = network.copy()
    copy.create_variables()
    copy.set_weights(network.get_weights())
    np.testing.assert_allclose(copy(observations)[0].numpy(), probe.outputs.numpy())

    _kill(strip(network.stack)[1], [0, 1, 2, 3])  # all-zero features stay zero, with a gradient
    with tf.GradientTape() as tape:
        q = network(observations)[0]
    assert np.all(network.probe(observations).features.numpy() == 0)
    gradients = tape.gradient(q, network.trainable_variables)
    assert all(np.all(np.isfinite(g.numpy())) for g in gradients if g is not None)


def test_measuring_changes_no_weight_mask_pruning_step_or_optimizer_slot(cartpole_specs):
    time_step_spec, action_spec = cartpole_specs
    updater = pruning.create_updater(
        pruning.PruningConfig(0.9, 20, "erk", pruning.PolynomialSchedule(frequency=2)))
    network = QNetwork(time_step_spec.observation, action_spec, "mlp", 1, (16, 16),
                       layer_transform=updater.wrap)
    hparams = DqnHyperparams(1e-3, 1e-8, 0.99, 5, weight_decay=1e-3)
    optimizer = make_optimizer(hparams)
    agent = create_agent("dqn", time_step_spec, action_spec, network, hparams, lambda: 0.1,
                         tf.Variable(0, dtype=tf.int64), optimizer)
    rng = np.random.default_rng(4)
    batch = {"observation": rng.normal(size=(32, 4)).astype(np.float32),
             "action": rng.integers(0, 2, 32), "reward": np.ones(32, np.float32),
             "discount": np.ones(32, np.float32),
             "next_observation": rng.normal(size=(32, 4)).astype(np.float32)}
    kernels = pruning.masked_kernels(network.stack)
    for _ in range(12):
        agent.train(as_transition({k: tf.constant(v) for k, v in batch.items()}))
        updater.update(kernels, agent.train_step_counter)
    state = list(agent.variables) + list(optimizer.variables)
    assert any("pruning_step" in v.name for v in state) and any("/m/" in v.name for v in state)
    before = [v.numpy().copy() for v in state]
    assert int(kernels[0].step) == 12

    diagnostics.measure(network, batch["observation"])
    tf.function(network.probe)(batch["observation"])

    for variable, value in zip(state, before):
        np.testing.assert_array_equal(variable.numpy(), value, err_msg=variable.name)
    assert int(kernels[0].step) == 12


def test_jsonl_log_drops_rejected_rows_and_a_cut_line(tmp_path):
    log = JsonlLog(str(tmp_path / "diagnostics.jsonl"))
    assert log.rows() == []
    for update in (500, 1000, 1500, 2000):
        log.append({"update": update, "diagnostics/srank": update / 100})
    with open(log.path, "a") as f:
        f.write('{"update": 2500, "diagnost')  # killed mid-write
    assert [row["update"] for row in log.rows()] == [500, 1000, 1500, 2000]
    log.keep(lambda row: row["update"] <= 1000)
    log.append({"update": 1500, "diagnostics/srank": 1.0})
    assert log.rows() == [{"update": 500, "diagnostics/srank": 5.0},
                          {"update": 1000, "diagnostics/srank": 10.0},
                          {"update": 1500, "diagnostics/srank": 1.0}]
    assert os.listdir(tmp_path) == ["diagnostics.jsonl"]
