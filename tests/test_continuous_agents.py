"""The continuous agents' losses against NumPy: TD3+BC's actor loss and CQL-SAC's penalty."""

import numpy as np
import pytest
import tensorflow as tf
from tf_agents.specs import tensor_spec

from tfprune_rl.agents.continuous import ContinuousHyperparams, SacAgent, Td3BcAgent
from tfprune_rl.networks.actor_critic import ActorNetwork, CriticNetwork

OBSERVATION_SPEC = tf.TensorSpec((3,), tf.float32)
ACTION_SPEC = tensor_spec.BoundedTensorSpec((2,), tf.float32, -2.0, 2.0)
BATCH_SIZE = 4


def _batch(seed=0):
    rng = np.random.default_rng(seed)
    return {"observation": tf.constant(rng.normal(size=(BATCH_SIZE, 3)), tf.float32),
            "action": tf.constant(rng.uniform(-2, 2, (BATCH_SIZE, 2)), tf.float32),
            "reward": tf.constant(rng.normal(size=BATCH_SIZE), tf.float32),
            "next_observation": tf.constant(rng.normal(size=(BATCH_SIZE, 3)), tf.float32),
            "terminal": tf.constant([0.0, 1.0, 0.0, 0.0])}


def _networks(gaussian):
    return (ActorNetwork(OBSERVATION_SPEC, ACTION_SPEC, (8,), gaussian=gaussian),
            CriticNetwork((OBSERVATION_SPEC, ACTION_SPEC), (8,)))


def test_td3_bc_actor_loss_is_the_papers():
    agent = Td3BcAgent(*_networks(False), ContinuousHyperparams(), seed=0)
    batch = _batch()
    action = agent.actor(batch["observation"])[0].numpy()
    assert np.all(np.abs(action) <= 2.0)
    (q1, _), _ = agent.critic((batch["observation"], tf.constant(action)))
    q1 = q1.numpy()
    expected = -2.5 / np.mean(np.abs(q1)) * np.mean(q1) + np.mean(
        (action - batch["action"].numpy()) ** 2)
    assert agent.actor_loss(batch).numpy() == pytest.approx(expected, rel=1e-5)


def test_cql_sac_penalty_is_logsumexp_of_importance_weighted_q_minus_q_of_the_data():
    hyperparams = ContinuousHyperparams(cql_samples=3)
    agent = SacAgent(*_networks(True), hyperparams, seed=0, conservative=True)
    batch = _batch(1)
    (q1_data, q2_data), _ = agent.critic((batch["observation"], batch["action"]))
    state = agent.rng.state.numpy()
    penalty = agent._cql_penalty(batch, q1_data, q2_data).numpy()
    agent.rng.state.assign(state)  # the same draws again, in the same order
    n = hyperparams.cql_samples
    uniform = agent.actor.scale(agent.rng.uniform((BATCH_SIZE * n, 2), -1.0, 1.0)).numpy()
    policy, policy_log_prob = agent.sample(tf.repeat(batch["observation"], n, axis=0))
    following, following_log_prob = agent.sample(tf.repeat(batch["next_observation"], n, axis=0))
    uniform_log_prob = -2 * np.log(4.0)  # density 1/16 on [-2, 2]^2
    expected = 0.0
    for q_data, head in ((q1_data.numpy(), 0), (q2_data.numpy(), 1)):
        per_state = []
        for b in range(BATCH_SIZE):
            rows = slice(b * n, (b + 1) * n)
            observation = tf.repeat(batch["observation"][b:b + 1], n, axis=0)
            values = []
            for actions, log_probs in ((uniform[rows], np.full(n, uniform_log_prob)),
                                       (policy.numpy()[rows], policy_log_prob.numpy()[rows]),
                                       (following.numpy()[rows], following_log_prob.numpy()[rows])):
                q = agent.critic((observation, tf.constant(actions)))[0][head].numpy()
                values.extend(q - log_probs)
            values = np.array(values, np.float64)
            per_state.append(np.log(np.sum(np.exp(values - values.max()))) + values.max())
        expected += np.mean(per_state) - np.mean(q_data)
    assert penalty == pytest.approx(expected, rel=1e-4, abs=1e-4)
    sac = SacAgent(*_networks(True), hyperparams, seed=0)
    for a in (agent, sac):
        a.rng.reset_from_seed(7)
    difference = agent.critic_loss(batch).numpy() - sac.critic_loss(batch).numpy()
    agent.rng.reset_from_seed(7)
    agent.sample(batch["next_observation"])  # the TD target's draw comes first
    assert difference == pytest.approx(
        5.0 * agent._cql_penalty(batch, q1_data, q2_data).numpy(), rel=1e-4)
