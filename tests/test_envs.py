"""Environments: the paper's Atari protocol, MinAtar, and the vector env the loop collects with."""

import numpy as np
import pytest

from tfprune_rl.envs import env_specs, frame_stack_size, make_gym_env, make_vector_env
from tfprune_rl.envs.atari import MAX_EPISODE_STEPS, make_atari


def test_atari_observations_are_84x84x4_uint8_stacks_newest_last():
    env = make_gym_env("ALE/Pong-v5")
    first, _ = env.reset(seed=0)
    assert first.shape == (84, 84, 4) and first.dtype == np.uint8
    assert not first[..., :3].any() and first[..., 3].any()  # zeros before the first frame
    observations = [first]
    for _ in range(6):
        observations.append(env.step(0)[0])
    for older, newer in zip(observations, observations[1:]):
        np.testing.assert_array_equal(newer[..., :3], older[..., 1:])
    assert frame_stack_size("ALE/Pong-v5") == 4 and frame_stack_size("CartPole-v1") == 1


def test_atari_protocol_sticky_actions_and_no_op_starts():
    sticky = make_gym_env("ALE/Pong-v5").unwrapped.ale
    plain = make_gym_env("ALE/Pong-v5", sticky_actions=False).unwrapped.ale
    assert sticky.getFloat("repeat_action_probability") == pytest.approx(0.25)
    assert plain.getFloat("repeat_action_probability") == 0.0
    env = make_gym_env("ALE/Pong-v5")
    frames_at_start = set()
    for seed in range(12):
        env.reset(seed=seed)
        frames_at_start.add(env.unwrapped.ale.getEpisodeFrameNumber())
    assert len(frames_at_start) > 3 and min(frames_at_start) >= 1 and max(frames_at_start) <= 30
    assert MAX_EPISODE_STEPS == 27_000


def test_atari_episode_cap_truncates_without_terminating():
    env = make_atari("ALE/Pong-v5", max_episode_steps=40)
    env.reset(seed=0)
    for step in range(1, 41):
        _, _, terminated, truncated, _ = env.step(0)
        assert not terminated
        assert truncated == (step == 40)


def test_minatar_observations_are_uint8_channels():
    env = make_gym_env("MinAtar/Breakout-v1")
    observation, _ = env.reset(seed=0)
    assert observation.shape == (10, 10, 4) and observation.dtype == np.uint8
    assert set(np.unique(observation)) <= {0, 1} and observation.any()
    observation_spec, action_spec = env_specs(env)
    assert observation_spec.shape == (10, 10, 4) and int(action_spec.maximum) == 2


@pytest.mark.parametrize("num_envs", [1, 2])
def test_vector_env_hands_back_the_final_observation_of_ended_episodes(num_envs):
    envs = make_vector_env("CartPole-v1", num_envs)
    observation, _ = envs.reset(seed=0)
    ended = 0
    for _ in range(200):
        observation, _, terminated, truncated, info = envs.step(np.zeros(num_envs, np.int64))
        for i in np.flatnonzero(terminated | truncated):
            ended += 1
            final = info["final_obs"][i]
            assert abs(final[2]) > 0.2 or abs(final[0]) > 2.4  # pole fell or cart left
            assert abs(observation[i][2]) < 0.06  # already the next episode's first observation
    envs.close()
    assert ended >= 2 * num_envs


def test_unknown_or_unsupported_envs_are_refused():
    with pytest.raises(ValueError, match="unknown env 'ALE/NotAGame-v5'.*MinAtar"):
        make_gym_env("ALE/NotAGame-v5")
    with pytest.raises(ValueError, match="Discrete one"):
        make_gym_env("Pendulum-v1")
    with pytest.raises(ValueError, match="num_envs=0"):
        make_vector_env("CartPole-v1", 0)
