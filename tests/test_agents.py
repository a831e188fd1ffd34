"""Networks, pruning wrappers and agents together: the schedule counts updates exactly."""

import numpy as np
import pytest
import tensorflow as tf

from tfprune_rl import pruning
from tfprune_rl.agents import DqnHyperparams, create_agent, linearly_decaying_epsilon
from tfprune_rl.networks import QNetwork
from tfprune_rl.training.loop import as_transition

HPARAMS = DqnHyperparams(learning_rate=1e-3, adam_epsilon=1e-8, gamma=0.99, target_update_period=5)


def _agent(specs, sparsity, name="dqn", total_updates=100, frequency=10):
    time_step_spec, action_spec = specs
    transform = None
    if sparsity:
        transform = pruning.PruningConfig(
            sparsity, total_updates, "erk", pruning.GradualSchedule(frequency=frequency)
        ).wrap
    network = QNetwork(time_step_spec.observation, action_spec, (16, 16), 2, transform)
    agent = create_agent(name, time_step_spec, action_spec, network, HPARAMS, lambda: 0.1,
                         tf.Variable(0, dtype=tf.int64))
    return agent, network


def _batch(seed, size=32):
    rng = np.random.default_rng(seed)
    return {
        "observation": rng.normal(size=(size, 4)).astype(np.float32),
        "action": rng.integers(0, 2, size),
        "reward": np.ones(size, np.float32),
        "discount": rng.integers(0, 2, size).astype(np.float32),
        "next_observation": rng.normal(size=(size, 4)).astype(np.float32),
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


@pytest.mark.parametrize("name", ["dqn", "double_dqn"])
def test_pruned_training_counts_updates_and_keeps_pruned_weights_zero(cartpole_specs, name):
    agent, network = _agent(cartpole_specs, sparsity=0.9, name=name, total_updates=100)
    wrappers = pruning.pruning_wrappers(network.stack)
    target_wrappers = pruning.pruning_wrappers(agent._target_q_network.stack)  # pylint: disable=protected-access
    assert {id(w.pruning_step) for w in wrappers}.isdisjoint(id(w.pruning_step) for w in target_wrappers)

    @tf.function
    def train_step(batch):
        agent.train(as_transition(batch))
        pruning.update_masks(wrappers, agent.train_step_counter)

    for step in range(100):
        train_step(_batch(step))
        agent.policy.action(  # acting must not advance the schedule
            tf.nest.map_structure(lambda s: tf.zeros([1] + s.shape, s.dtype), agent.time_step_spec))
    assert [int(w.pruning_step) for w in wrappers] == [100] * len(wrappers)

    stats = pruning.kernel_sparsity(network.stack)
    for layer in stats:
        assert abs(layer.zeros - round(layer.target * layer.size)) <= 1, layer
    assert pruning.total_sparsity(stats) == pytest.approx(0.9, abs=2 / sum(s.size for s in stats))

    pruned = [w.layer.kernel.numpy() == 0 for w in wrappers]
    for step in range(100, 120):
        train_step(_batch(step))
    for was_zero, wrapper in zip(pruned, wrappers):
        assert np.all(wrapper.layer.kernel.numpy()[was_zero] == 0)
