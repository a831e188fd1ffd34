import gymnasium as gym
import numpy as np
import pytest
from tf_agents.environments import utils

from tfprune_rl.envs import GymnasiumEnvironment, make_env


def test_satisfies_the_tf_agents_environment_contract():
    utils.validate_py_environment(make_env("CartPole-v1", seed=0), episodes=3)


def test_truncation_ends_the_episode_but_keeps_the_bootstrap():
    env = GymnasiumEnvironment(gym.make("CartPole-v1", max_episode_steps=3), seed=0)
    env.reset()
    steps = [env.step(np.int64(i % 2)) for i in range(3)]
    assert [s.is_last() for s in steps] == [False, False, True]
    assert float(steps[-1].discount) == 1.0


def test_termination_ends_the_episode_with_zero_discount():
    env = make_env("CartPole-v1", seed=0)
    env.reset()
    time_step = env.step(np.int64(0))
    while not time_step.is_last():  # always pushing left topples the pole
        time_step = env.step(np.int64(0))
    assert float(time_step.discount) == 0.0


def test_same_seed_gives_the_same_episode_starts():
    first = make_env("CartPole-v1", seed=7).reset().observation
    assert np.array_equal(first, make_env("CartPole-v1", seed=7).reset().observation)
    assert not np.array_equal(first, make_env("CartPole-v1", seed=8).reset().observation)


def test_unknown_env_and_unsupported_spaces_are_rejected():
    with pytest.raises(ValueError, match="unknown env 'Nope-v9'"):
        make_env("Nope-v9", seed=0)
    with pytest.raises(ValueError, match="need a Discrete one"):
        make_env("Pendulum-v1", seed=0)
