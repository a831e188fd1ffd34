"""Networks, pruning wrappers and agents together: the schedule counts updates exactly."""

import numpy as np
import pytest
import tensorflow as tf
from tf_agents.agents.dqn import dqn_agent
from tf_agents.utils import common

from tfprune_rl import pruning
from tfprune_rl.agents import (
    DqnHyperparams, conservative_penalty, create_agent, linearly_decaying_epsilon,
    agent_spec, make_optimizer, per_example_loss, sync_target,
)
from tfprune_rl.networks import QNetwork
from tfprune_rl.value_based.learner import as_transition

HPARAMS = DqnHyperparams(learning_rate=1e-3, adam_epsilon=1e-8, gamma=0.99, target_update_period=5)


def _agent(specs, sparsity, name="dqn", total_updates=100, frequency=10, network=None):
    time_step_spec, action_spec = specs
    transform = None
    if sparsity:
        transform = pruning.create_updater(pruning.PruningConfig(
            sparsity, total_updates, "erk", pruning.PolynomialSchedule(frequency=frequency)
        )).wrap
    network = network or QNetwork(time_step_spec.observation, action_spec, "mlp", 2, (16, 16),
                                  agent_spec(name).head(HPARAMS), transform)
    optimizer = make_optimizer(HPARAMS, pruning.masked_kernels(network.stack))
    agent = create_agent(name, time_step_spec, action_spec, network, HPARAMS, lambda: 0.1,
                         tf.Variable(0, dtype=tf.int64), optimizer)
    return agent, network


def _batch(seed, size=32):
    rng = np.random.default_rng(seed)
    return {
        "observation": rng.normal(size=(size, 4)).astype(np.float32),
        "action": rng.integers(0, 2, size),
        "reward": np.ones(size, np.float32),
        "discount": rng.integers(0, 2, size).astype(np.float32),
        "next_observation": rng.normal(size=(size, 4)).astype(np.float32),
        "weights": np.ones(size, np.float32),
    }


def test_width_multiplies_every_hidden_layer(cartpole_specs):
    _, network = _agent(cartpole_specs, sparsity=0.0)
    assert [layer.units for layer in network.stack] == [32, 32, 2]
    assert not pruning.pruning_wrappers(network.stack)


def test_epsilon_is_one_during_warmup_then_linear_to_final():
    values = [float(linearly_decaying_epsilon(s, 100, 1000, 0.01)) for s in (0, 100, 600, 1100, 5000)]
    assert values == pytest.approx([1.0, 1.0, 0.505, 0.01, 0.01])


def test_unknown_agent_is_rejected(cartpole_specs):
    with pytest.raises(ValueError, match="unknown agent 'c52'"):
        _agent(cartpole_specs, 0.0, name="c52")


@pytest.mark.parametrize("name", ["dqn", "double_dqn", "c51"])
def test_pruned_training_counts_updates_and_keeps_pruned_weights_zero(cartpole_specs, name):
    """As the trainer does it: masks updated after each due update (Adam's moments zeroed
    where they prune), and no re-masking after optimizer steps: the optimizer must leave
    pruned weights at exactly zero by itself."""
    agent, network = _agent(cartpole_specs, sparsity=0.9, name=name, total_updates=100)
    wrappers = pruning.pruning_wrappers(network.stack)
    kernels = pruning.masked_kernels(network.stack)
    target_kernels = pruning.masked_kernels(agent._target_q_network.stack)  # pylint: disable=protected-access
    assert {id(k.mask) for k in kernels}.isdisjoint(id(k.mask) for k in target_kernels)
    updater = pruning.create_updater(pruning.PruningConfig(
        0.9, 100, "erk", pruning.PolynomialSchedule(frequency=10)))

    @tf.function
    def train_step(batch):
        agent.train(as_transition(batch), weights=batch["weights"])

    @tf.function
    def update_masks():
        updater.update(kernels, agent.train_step_counter)
        agent._optimizer.zero_pruned_moments()  # pylint: disable=protected-access

    for step in range(100):
        train_step(_batch(step))
        update_masks()
        agent.policy.action(  # acting must not advance the schedule
            tf.nest.map_structure(lambda s: tf.zeros([1] + s.shape, s.dtype), agent.time_step_spec))
    assert [int(k.step) for k in kernels] == [100] * len(kernels)

    stats = pruning.kernel_sparsity(network.stack)
    for layer in stats:
        assert abs(layer.zeros - round(layer.target * layer.size)) <= 1, layer
    assert pruning.total_sparsity(stats) == pytest.approx(0.9, abs=2 / sum(s.size for s in stats))

    pruned = [w.layer.kernel.numpy() == 0 for w in wrappers]
    kept = [w.layer.kernel.numpy() for w in wrappers]
    for step in range(100, 120):
        train_step(_batch(step))  # no mask update and no re-masking after these
    for was_zero, before, wrapper in zip(pruned, kept, wrappers):
        assert np.all(wrapper.layer.kernel.numpy()[was_zero] == 0)
        assert np.any(wrapper.layer.kernel.numpy()[~was_zero] != before[~was_zero])  # trained


@pytest.mark.parametrize("name", ["dqn", "c51"])
def test_importance_weights_scale_each_transitions_loss(cartpole_specs, name):
    agent, _ = _agent(cartpole_specs, sparsity=0.0, name=name)
    batch = {key: tf.convert_to_tensor(value) for key, value in _batch(0).items()}
    plain = agent.loss(as_transition(batch))
    per_example = per_example_loss(plain).numpy()
    assert per_example.shape == (32,) and np.all(per_example > 0)
    assert float(plain.loss) == pytest.approx(per_example.mean(), rel=1e-5)
    weights = np.linspace(0.0, 1.0, 32).astype(np.float32)
    weighted = agent.loss(as_transition(batch), weights=weights)
    assert float(weighted.loss) == pytest.approx(np.mean(weights * per_example), rel=1e-5)
    np.testing.assert_allclose(per_example_loss(weighted).numpy(), per_example, rtol=1e-5)


def test_c51_head_outputs_a_distribution_per_action(cartpole_specs):
    agent, network = _agent(cartpole_specs, sparsity=0.0, name="c51")
    logits, _ = network(tf.zeros((3, 4)))
    assert logits.shape == (3, 2, 51)
    assert agent.policy.action(
        tf.nest.map_structure(lambda s: tf.zeros([3] + s.shape, s.dtype), agent.time_step_spec)
    ).action.shape == (3,)


def test_conservative_penalty_is_logsumexp_minus_the_datas_q():
    q_values = tf.constant([[1.0, 2.0], [0.0, 0.0], [3.0, -1.0]])
    penalty = conservative_penalty(q_values, tf.constant([1, 0, 0])).numpy()
    np.testing.assert_allclose(penalty, [np.log(np.e + np.e**2) - 2, np.log(2),
                                         np.log(np.e**3 + np.e**-1) - 3], rtol=1e-5)


def test_cql_loss_equals_a_hand_computed_value(cartpole_specs):
    """Huber TD error against the target network's max, plus 0.1 x the penalty, averaged."""
    agent, network = _agent(cartpole_specs, sparsity=0.0, name="cql")
    batch = _batch(1, size=6)
    batch["reward"] = np.linspace(-2, 3, 6).astype(np.float32)  # some |TD| > 1: Huber's linear part
    q = network(batch["observation"])[0].numpy().astype(np.float64)
    next_q = agent._target_q_network(batch["next_observation"])[0].numpy().max(axis=1)
    chosen = q[np.arange(6), batch["action"]]
    td = batch["reward"] + batch["discount"] * next_q - chosen
    huber = np.where(np.abs(td) <= 1, 0.5 * td**2, np.abs(td) - 0.5)
    penalty = np.log(np.exp(q).sum(axis=1)) - chosen
    assert np.abs(td).max() > 1 and np.abs(td).min() < 1
    expected = np.mean(huber + HPARAMS.cql_alpha * penalty)
    loss = agent.loss(as_transition({k: tf.convert_to_tensor(v) for k, v in batch.items()}))
    assert float(loss.loss) == pytest.approx(expected, rel=1e-5)
    assert HPARAMS.cql_alpha == 0.1  # the paper's default


def test_cql_c51_adds_the_penalty_on_the_distributions_means(cartpole_specs):
    c51, network = _agent(cartpole_specs, sparsity=0.0, name="c51")
    cql_c51, _ = _agent(cartpole_specs, sparsity=0.0, name="cql_c51", network=network)
    batch = {k: tf.convert_to_tensor(v) for k, v in _batch(2, size=8).items()}
    probabilities = tf.nn.softmax(network(batch["observation"])[0]).numpy()
    q = (probabilities * np.linspace(-HPARAMS.v_max, HPARAMS.v_max, 51)).sum(axis=-1)
    chosen = q[np.arange(8), batch["action"].numpy()]
    penalty = np.log(np.exp(q).sum(axis=1)) - chosen
    experience = as_transition(batch)
    difference = float(cql_c51.loss(experience).loss - c51.loss(experience).loss)
    assert difference == pytest.approx(HPARAMS.cql_alpha * penalty.mean(), rel=1e-4)
    assert penalty.mean() > 0.01


def test_sync_target_after_every_period_is_tf_agents_own_target_update(cartpole_specs):
    """The trainer's target update (`sync_target` after every 5th update, outside `train`)
    leaves the online and target weights exactly where TF-Agents' own update (inside `train`,
    every 5th) does, on a pruned network."""
    ours, network = _agent(cartpole_specs, sparsity=0.9)
    stock_network = network.copy()
    for stock, variable in zip(stock_network.variables, network.variables, strict=True):
        stock.assign(variable)
    time_step_spec, action_spec = cartpole_specs
    stock = dqn_agent.DqnAgent(
        time_step_spec, action_spec, q_network=stock_network, epsilon_greedy=0.1, gamma=1.0,
        optimizer=make_optimizer(HPARAMS, pruning.masked_kernels(stock_network.stack)),
        target_update_tau=1.0, target_update_period=HPARAMS.target_update_period,
        td_errors_loss_fn=common.element_wise_huber_loss,
        train_step_counter=tf.Variable(0, dtype=tf.int64))
    stock.initialize()
    trains = [tf.function(lambda batch, agent=agent: agent.train(
        as_transition(batch), weights=batch["weights"])) for agent in (ours, stock)]
    for update in range(1, 13):
        batch = _batch(update)
        for train in trains:
            train(batch)
        if update % HPARAMS.target_update_period == 0:
            sync_target(ours)
        for agent in (ours, stock):
            online = [v.numpy() for v in agent._q_network.trainable_variables]  # pylint: disable=protected-access
            target = [v.numpy() for v in agent._target_q_network.trainable_variables]  # pylint: disable=protected-access
            assert all(np.array_equal(a, b) for a, b in zip(online, target)) == (
                update in (5, 10)), update
        for a, b in zip(ours._target_q_network.variables, stock._target_q_network.variables):  # pylint: disable=protected-access
            if "mask" not in a.name:
                np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.name)
