"""The fused learner call: k updates and acting in one XLA call are TF-Agents' own k updates,
and exploration draws from the run's seeded generator."""

import numpy as np
import pytest
import tensorflow as tf

from tfprune_rl.settings import config_with
from tfprune_rl.replay import ReplayBuffer
from tfprune_rl.value_based import TrainConfig, value_based_trainer
from tfprune_rl.value_based.learner import as_transition


def _trainer(tmp_path, name, **overrides) -> object:
    settings = dict(env="CartPole-v1", agent="dqn", width=1, hidden_units=(16, 16),
                    batch_size=8, num_env_steps=400, learning_starts=0,
                    pruning_frequency=10)
    config = config_with(TrainConfig, root_dir=str(tmp_path / name), **{**settings, **overrides})
    (tmp_path / name).mkdir()  # the runner makes it for a real run
    return value_based_trainer(config, log=lambda line: None)


def _batch(seed: int, updates: int) -> dict:
    """`updates` batches of 8 CartPole transitions, as `ReplayBuffer.sample` gives them."""
    replay = ReplayBuffer(200, (4,), np.float32, seed, n_step=1)
    rng = np.random.default_rng(seed)
    for t in range(100):
        observation = rng.normal(size=(1, 4)).astype(np.float32)
        replay.add(observation, [t % 2], [1.0], [t % 17 == 16], [False], observation + 0.1)
    return replay.sample(8 * updates)


@pytest.mark.parametrize("sparsity", [0.0, 0.8])
def test_k_updates_in_one_call_are_tf_agents_k_updates(tmp_path, sparsity):
    """Three updates in one learner call end where three calls of TF-Agents' `train` (without
    XLA, on the same batches) end: same weights, Adam moments and update count; with masks,
    every pruned weight still exactly zero."""
    fused, reference = (_trainer(tmp_path, name, sparsity=sparsity) for name in ("a", "b"))
    for trainer in (fused, reference):  # a mask that prunes, fixed for the three updates
        trainer.updater.update(trainer.kernels, 320)
    batch = _batch(0, 3)
    actions, losses, _ = fused.learner(0, batch, np.zeros((1, 4), np.float32))
    assert actions.shape == (1,) and losses.shape == (3,)

    train = tf.function(lambda b: reference.agent.train(as_transition(b), weights=b["weights"]))
    for i in range(3):
        train({name: tf.constant(value[8 * i:8 * (i + 1)]) for name, value in batch.items()
               if name != "indices"})
    assert int(fused.agent.train_step_counter) == int(reference.agent.train_step_counter) == 3
    for ours, theirs in zip(fused.q_network.trainable_variables,
                            reference.q_network.trainable_variables):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-4, atol=1e-6)
        for moment, expected in zip(fused.optimizer.moments(ours),
                                    reference.optimizer.moments(theirs)):
            np.testing.assert_allclose(moment.numpy(), expected.numpy(), rtol=1e-4, atol=1e-9)
    masks = [k.mask.numpy() for k in fused.kernels]
    assert sum(np.sum(m == 0) for m in masks) == pytest.approx(  # none when dense
        sparsity * sum(m.size for m in masks), abs=5)
    for kernel, mask in zip(fused.kernels, masks):
        assert np.all(kernel.kernel.numpy()[mask == 0] == 0)


def test_exploration_follows_the_runs_seed_and_its_checkpointed_generator(tmp_path):
    """At epsilon 1 (warm-up) every action is a draw: the same seed draws the same actions,
    another seed others, and a generator restored from a checkpoint goes on where it was."""
    observation = np.zeros((64, 4), np.float32)

    def trainer(name, seed=0):
        return _trainer(tmp_path, name, num_envs=64, num_env_steps=12800, learning_starts=6400,
                        seed=seed)

    def draws(of):
        return np.concatenate([of.learner(0, None, observation)[0] for _ in range(3)])

    first, same_seed, other_seed = trainer("a"), trainer("b"), trainer("c", seed=1)
    expected = draws(first)
    assert set(np.unique(expected)) == {0, 1}
    np.testing.assert_array_equal(draws(same_seed), expected)
    assert not np.array_equal(draws(other_seed), expected)
    saved = tf.train.Checkpoint(rng=first.explore_rng).write(str(tmp_path / "rng" / "ckpt"))
    expected = draws(first)
    tf.train.Checkpoint(rng=other_seed.explore_rng).read(saved).assert_consumed()
    np.testing.assert_array_equal(draws(other_seed), expected)


def test_prioritized_replay_takes_every_updates_priorities(tmp_path):
    """Three updates in one call: each batch's slots get the priorities of its own update
    (sqrt of its transitions' losses), written in update order."""
    trainer = _trainer(tmp_path, "prioritized", replay_scheme="prioritized", sparsity=0.0)
    trainer.start(0)
    rng = np.random.default_rng(0)
    for t in range(60):
        observation = rng.normal(size=(1, 4)).astype(np.float32)
        trainer.replay.add(observation, [t % 2], [1.0], [t % 13 == 12], [False], observation)
    calls = []
    sample, learner = trainer.replay.sample, trainer.learner

    def recorded_sample(*args):
        calls.append({"batch": sample(*args)})
        return calls[-1]["batch"]

    def recorded_learner(*args):
        result = learner(*args)
        calls[-1]["priorities"] = result[2].numpy()
        return result

    trainer.replay.sample, trainer.learner = recorded_sample, recorded_learner
    trainer.env_step = 3  # three updates due (an update per env step from step 0)
    trainer._learn(trainer._due_updates(), trainer.observation)  # pylint: disable=protected-access
    [call] = calls
    slots, priorities = call["batch"]["indices"].reshape(3, 8), call["priorities"]
    assert priorities.shape == (3, 8) and np.all(priorities > 0)
    final = {}
    for update_slots, update_priorities in zip(slots, priorities):
        final.update(zip(update_slots.tolist(), update_priorities.tolist()))
    stored = trainer.replay._tree.get(np.array(list(final)))  # pylint: disable=protected-access
    np.testing.assert_allclose(stored, list(final.values()), rtol=1e-6)
    assert int(trainer.agent.train_step_counter) == trainer.updates == 3
