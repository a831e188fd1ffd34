"""IQN and Munchausen-IQN: the embedding, the loss and the targets against NumPy by hand."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

import cli
from tfprune_rl.settings import config_with
from tfprune_rl.agents import DqnHyperparams, create_agent, make_optimizer
from tfprune_rl.agents.iqn import munchausen_targets, quantile_huber_loss
from tfprune_rl.export import saved_kernels
from tfprune_rl.networks import QNetwork, QuantileHead
from tfprune_rl.networks.heads import cosine_embedding
from tfprune_rl.value_based import TrainConfig, train
from tfprune_rl.value_based.learner import as_transition

HPARAMS = DqnHyperparams(learning_rate=1e-3, adam_epsilon=1e-8, gamma=0.99, target_update_period=5)


def _quantile_huber_by_hand(targets, quantiles, taus, kappa):
    loss = np.zeros(len(targets))
    for b in range(len(targets)):
        for i in range(quantiles.shape[1]):
            for j in range(targets.shape[1]):
                u = targets[b, j] - quantiles[b, i]
                huber = 0.5 * u * u if abs(u) <= kappa else kappa * (abs(u) - 0.5 * kappa)
                loss[b] += abs(taus[b, i] - (u < 0)) * huber / kappa / targets.shape[1]
    return loss


def test_cosine_embedding_is_cos_pi_i_tau():
    taus = np.random.default_rng(0).uniform(size=(3, 5)).astype(np.float32)
    embedding = cosine_embedding(tf.constant(taus), 64).numpy()
    assert embedding.shape == (3, 5, 64)
    expected = np.cos(np.pi * np.arange(64)[None, None, :] * taus[..., None])
    np.testing.assert_allclose(embedding, expected, atol=2e-5)
    np.testing.assert_array_equal(embedding[..., 0], 1.0)  # i = 0: the constant feature


@pytest.mark.parametrize("kappa", [1.0, 0.5])
def test_quantile_huber_loss_matches_its_formula(kappa):
    rng = np.random.default_rng(1)
    targets = rng.normal(0, 2, size=(4, 6)).astype(np.float32)
    quantiles = rng.normal(0, 2, size=(4, 5)).astype(np.float32)
    taus = rng.uniform(size=(4, 5)).astype(np.float32)
    errors = targets[:, None, :] - quantiles[:, :, None]
    # Both signs, and |error| on both sides of kappa.
    assert (errors > kappa).any() and (errors < -kappa).any()
    assert ((0 < errors) & (errors < kappa)).any() and ((-kappa < errors) & (errors < 0)).any()
    loss = quantile_huber_loss(tf.constant(targets), tf.constant(quantiles), tf.constant(taus),
                               kappa).numpy()
    np.testing.assert_allclose(loss, _quantile_huber_by_hand(targets, quantiles, taus, kappa),
                               rtol=1e-5)


def test_munchausen_targets_match_their_formula_with_clipping():
    tau, alpha, clip = 0.03, 0.9, -1.0
    rng = np.random.default_rng(2)
    current_q = rng.normal(0, 0.05, size=(4, 3)).astype(np.float32)
    current_q[0] = [0.0, -0.5, 1.5]  # tau * log pi(a=0) is about -1.5: clipped at l0 = -1
    next_quantiles = rng.normal(0, 1, size=(4, 6, 3)).astype(np.float32)
    rewards = np.array([1.0, 0.0, -1.0, 0.5], np.float32)
    discounts = np.array([0.97, 0.97, 0.0, 0.97], np.float32)
    actions = np.array([0, 1, 2, 0])
    targets = munchausen_targets(tf.constant(rewards), tf.constant(discounts),
                                 tf.constant(actions), tf.constant(current_q),
                                 tf.constant(next_quantiles), tau, alpha, clip).numpy()

    def log_softmax(q):
        z = q / tau
        return z - z.max(axis=-1, keepdims=True) - np.log(
            np.exp(z - z.max(axis=-1, keepdims=True)).sum(axis=-1, keepdims=True))

    scaled = tau * log_softmax(current_q.astype(np.float64))[np.arange(4), actions]
    assert scaled[0] < clip < scaled[1:].min()  # one clipped, the others not
    bonus = alpha * np.clip(scaled, clip, 0.0)
    next_q = next_quantiles.mean(axis=1)
    policy = np.exp(log_softmax(next_q))
    soft = (policy[:, None, :] * (next_quantiles - tau * log_softmax(next_q)[:, None, :])).sum(-1)
    expected = (rewards + bonus)[:, None] + discounts[:, None] * soft
    np.testing.assert_allclose(targets, expected, rtol=1e-5, atol=1e-5)


def _batch(size=8):
    rng = np.random.default_rng(3)
    return {"observation": tf.constant(rng.normal(size=(size, 4)), tf.float32),
            "next_observation": tf.constant(rng.normal(size=(size, 4)), tf.float32),
            "action": tf.constant(rng.integers(0, 2, size), tf.int64),
            "reward": tf.constant(rng.normal(0, 3, size), tf.float32),
            "discount": tf.constant([0.97] * (size - 2) + [0.0, 0.0], tf.float32)}


@pytest.mark.parametrize("name", ["iqn", "m_iqn"])
def test_agent_loss_is_the_quantile_huber_loss_of_its_targets(name, cartpole_specs):
    """The agent's loss on a batch, redone by hand: the same fractions (a copy of its
    generator), the target network's greedy action (IQN) or Munchausen's target, n-step
    rewards and discounts as the replay gives them, kappa 1, N = N' = 64, K = 32."""
    time_step_spec, action_spec = cartpole_specs
    tf.keras.utils.set_random_seed(4)
    network = QNetwork(time_step_spec.observation, action_spec, "mlp", 1, (16,),
                       head=QuantileHead())
    agent = create_agent(name, time_step_spec, action_spec, network, HPARAMS, lambda: 0.1,
                         tf.Variable(0, dtype=tf.int64), make_optimizer(HPARAMS), seed=7)
    for variable in agent._target_q_network.trainable_variables:  # a target unlike the online
        variable.assign(variable * 1.5)
    batch = _batch()
    draws = tf.random.Generator.from_state(agent._rng.state.numpy(), agent._rng.algorithm)
    loss = agent.loss(as_transition(batch), weights=tf.ones(8)).loss.numpy()

    target_network, size = agent._target_q_network, 8
    if name == "iqn":
        greedy = target_network.quantiles(batch["next_observation"], draws.uniform((size, 32)))
        greedy = np.argmax(greedy.numpy().mean(axis=1), axis=-1)
        next_quantiles = target_network.quantiles(batch["next_observation"],
                                                  draws.uniform((size, 64))).numpy()
        targets = (batch["reward"].numpy()[:, None] + batch["discount"].numpy()[:, None]
                   * next_quantiles[np.arange(size), :, greedy])
    else:
        taus = draws.uniform((size, 64))
        next_quantiles = target_network.quantiles(batch["next_observation"], taus).numpy()
        current_q = target_network.quantiles(batch["observation"], taus).numpy().mean(axis=1)
        targets = munchausen_targets(batch["reward"], batch["discount"], batch["action"],
                                     current_q, next_quantiles, 0.03, 0.9, -1.0).numpy()
    taus = draws.uniform((size, 64)).numpy()
    quantiles = network.quantiles(batch["observation"], tf.constant(taus)).numpy()
    chosen = quantiles[np.arange(size), :, batch["action"].numpy()]
    expected = _quantile_huber_by_hand(targets, chosen, taus, 1.0).mean()
    assert loss == pytest.approx(expected, rel=1e-4)


# CartPole in CI's budget: width 1, 95% sparse from update 14,500 of 29,000 (pruning 20% to
# 50% of the updates), then three evaluations at full sparsity (env steps 20k, 25k, 30k). At 12k
# env steps the same code and seed passed CI once and failed it the next time (evaluations at
# full sparsity 157-237): the result rested on the machine's and packages' numerics.
CARTPOLE = ["--width=1", "--num_env_steps=30000", "--pruning_end=0.5", "--eval_interval=5000",
            "--epsilon_decay_steps=5000", "--checkpoint_interval=10000", "--log_interval=5000"]


@pytest.fixture(scope="module")
def iqn_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("iqn_runs")
    runs = {agent: str(root / agent) for agent in ("iqn", "m_iqn")}
    processes = {agent: cli.start(f"--root_dir={run}", f"--agent={agent}", *CARTPOLE)
                 for agent, run in runs.items()}
    return runs, {agent: cli.finish(process) for agent, process in processes.items()}


@pytest.mark.slow
@pytest.mark.parametrize("agent", ["iqn", "m_iqn"])
def test_95_percent_sparse_iqn_agents_learn_cartpole(iqn_runs, agent):
    """Over its three evaluations at 95% sparsity, a mean of 250+ of 500 (random play: about
    22), and the export is 95% zeros in its files. The bar is the mean, not one evaluation,
    and half the maximum: seeds 0, 1 and 2 of each agent, measured 2026-12-07, had means of
    316-500, and CartPole's evaluations swing (one run: 500, 500, then 274)."""
    run = iqn_runs[0][agent]
    assert iqn_runs[1][agent].splitlines()[0].startswith(
        f"{agent} on CartPole-v1, mlp x1, 95% sparse (gmp, erk), 30,000 env steps")
    with open(os.path.join(run, "diagnostics.jsonl")) as f:
        sparsity = {row["env_step"]: row["sparsity/total"] for row in map(json.loads, f)}
    assert sparsity[16000] == pytest.approx(0.95, abs=1e-3)  # update 15,000: pruning is over
    with open(os.path.join(run, "evaluations.jsonl")) as f:
        returns = {row["env_step"]: row["return_mean"] for row in map(json.loads, f)}
    assert np.mean([returns[step] for step in (20000, 25000, 30000)]) >= 250, returns
    metrics = cli.metrics(run)
    assert metrics["agent"] == agent and metrics["train_steps"] == 29_000
    kernels = saved_kernels(os.path.join(run, "export", "saved_model"))
    assert "quantile_embedding" in kernels
    zeros = sum(int(np.sum(k == 0)) for k in kernels.values())
    assert zeros / sum(k.size for k in kernels.values()) == pytest.approx(0.95, abs=2e-3)


@pytest.mark.slow
def test_a_killed_iqn_run_resumes_with_its_fractions_generator(tmp_path):
    """Stopped after its checkpoint at env step 1,000 and resumed, an IQN run ends with the
    uninterrupted run's counters, sparsity and fraction generator: each update draws the same
    number of fractions, so the generator's final state matches only if the checkpoint held it
    (the episodes cut by the restart make the weights differ)."""
    def config(root):
        return config_with(TrainConfig, root_dir=str(tmp_path / root), agent="iqn", width=1,
                           hidden_units=(32,), num_env_steps=2000, learning_starts=200,
                           eval_interval=2000, eval_episodes=1, checkpoint_interval=1000,
                           log_interval=500, pruning_frequency=100)

    def generator_state(root):
        return cli.checkpointed(tmp_path / root, "agent/_rng/")

    straight = train(config("straight"), log=lambda line: None)
    with pytest.raises(cli.Stop):
        train(config("killed"), log=cli.stop_at("env steps 1,500/"))
    resumed = train(config("killed"), log=lambda line: None)
    assert generator_state("killed") == generator_state("straight") != []
    for key in ("env_steps", "train_steps", "layer_sparsity"):
        assert resumed[key] == straight[key]
    assert os.path.exists(tmp_path / "killed" / "export" / "saved_model")
