"""Environments: the paper's Atari protocol, MinAtar, and the vector env the loop collects with."""

import ale_py.vector_env
import gymnasium as gym
import numpy as np
import pytest

from tfprune_rl.envs import env_specs, frame_stack_size, make_gym_env, make_vector_env
from tfprune_rl.envs.atari import (
    MAX_EPISODE_STEPS, AtariVectorEnv, FrameStack, atari_settings, make_atari,
)


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


def test_native_atari_vector_env_has_the_single_envs_protocol():
    """ale-py's C++ vector env collects; gymnasium's wrappers (`make_atari`) evaluate. Both are
    set up with the same protocol, read back from each."""
    single = make_gym_env("ALE/Breakout-v5")
    wrappers = {type(env).__name__: env for env in _wrapper_chain(single)}
    preprocessing = wrappers["AtariPreprocessing"]
    settings = atari_settings(sticky_actions=True)
    assert settings["repeat_action_probability"] == pytest.approx(
        single.unwrapped.ale.getFloat("repeat_action_probability"))
    assert settings["frameskip"] == preprocessing.frame_skip == 4
    assert settings["noop_max"] == preprocessing.noop_max == 30
    assert (settings["img_height"], settings["img_width"]) == preprocessing.screen_size == (84, 84)
    assert settings["grayscale"] and preprocessing.grayscale_obs and settings["maxpool"]
    assert settings["stack_num"] == single.observation_space.shape[-1] == 4
    assert settings["max_num_frames_per_episode"] == 4 * wrappers["TimeLimit"]._max_episode_steps
    assert not (settings["episodic_life"] or preprocessing.terminal_on_life_loss)
    assert not (settings["reward_clipping"] or settings["use_fire_reset"]
                or settings["full_action_space"])
    assert atari_settings(sticky_actions=False)["repeat_action_probability"] == 0.0
    native = make_vector_env("ALE/Breakout-v5", 2)
    assert isinstance(native, AtariVectorEnv)
    assert native.single_observation_space == single.observation_space
    assert native.single_action_space == single.action_space
    native.close()


def test_native_atari_frames_equal_the_single_envs_for_the_same_actions():
    """Without the random parts of the protocol (sticky actions, no-op starts), both
    implementations see the same frames, rewards and episode end; the vector env hands back the
    final stack of an ended episode and starts the next one."""
    settings = dict(atari_settings(sticky_actions=False), noop_max=0)
    native = AtariVectorEnv.__new__(AtariVectorEnv)
    gym.vector.VectorWrapper.__init__(native, ale_py.vector_env.AtariVectorEnv(
        "breakout", 1, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP, **settings))
    native.single_observation_space = make_gym_env("ALE/Breakout-v5").observation_space
    single = FrameStack(gym.wrappers.AtariPreprocessing(
        gym.make("ALE/Breakout-v5", frameskip=1, repeat_action_probability=0.0,
                 full_action_space=False, max_episode_steps=None),
        noop_max=0, frame_skip=4, screen_size=84, terminal_on_life_loss=False,
        grayscale_obs=True, scale_obs=False), 4)
    observations, _ = native.reset(seed=0)
    observation, _ = single.reset(seed=0)
    np.testing.assert_array_equal(observations[0], observation)
    rng = np.random.default_rng(0)
    for step in range(2000):
        action = int(rng.integers(4))
        observations, rewards, terminated, truncated, info = native.step(np.array([action]))
        observation, reward, single_terminated, _, _ = single.step(action)
        assert rewards[0] == reward and terminated[0] == single_terminated
        if single_terminated:
            np.testing.assert_array_equal(info["final_obs"][0], observation)
            assert not observations[0][..., :3].any()  # the next episode's first stack
            break
        np.testing.assert_array_equal(observations[0], observation)
    assert single_terminated, "Breakout never ended in 2,000 random steps"


def _wrapper_chain(env):
    while True:
        yield env
        if not hasattr(env, "env"):
            return
        env = env.env
