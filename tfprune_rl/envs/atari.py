"""Atari through ale-py with the paper's protocol (Machado et al. 2018, as in Dopamine).

Sticky actions 0.25, frame skip 4 with a max over the last two frames, 84x84 grayscale, up to
30 no-op starts, a stack of the last 4 frames (channels last, zeros before the episode's first
frame) and a cap of 27,000 agent steps (108,000 frames) per episode. Rewards are left raw here:
the training loop clips what it learns from and reports raw returns.
"""

import ale_py
import gymnasium as gym
import numpy as np

gym.register_envs(ale_py)

STICKY_ACTION_PROBABILITY = 0.25
FRAME_SKIP = 4
SCREEN_SIZE = 84
STACK_SIZE = 4
NOOP_MAX = 30
MAX_EPISODE_STEPS = 27_000


class FrameStack(gym.Wrapper):
    """The last `size` observations along a new last axis, oldest first."""

    def __init__(self, env: gym.Env, size: int):
        super().__init__(env)
        space = env.observation_space
        self._frames = np.zeros((*space.shape, size), space.dtype)
        self.observation_space = gym.spaces.Box(
            np.min(space.low), np.max(space.high), self._frames.shape, space.dtype
        )

    def _push(self, frame):
        self._frames[..., :-1] = self._frames[..., 1:]
        self._frames[..., -1] = frame
        return self._frames.copy()

    def reset(self, **kwargs):
        frame, info = self.env.reset(**kwargs)
        self._frames.fill(0)
        return self._push(frame), info

    def step(self, action):
        frame, reward, terminated, truncated, info = self.env.step(action)
        return self._push(frame), reward, terminated, truncated, info


def make_atari(env_id: str, sticky_actions: bool = True,
               max_episode_steps: int = MAX_EPISODE_STEPS) -> gym.Env:
    """`sticky_actions=False` is the Atari 100k setting (Kaiser et al. 2020)."""
    env = gym.make(
        env_id,
        frameskip=1,
        repeat_action_probability=STICKY_ACTION_PROBABILITY if sticky_actions else 0.0,
        full_action_space=False,
        max_episode_steps=None,
    )
    env = gym.wrappers.AtariPreprocessing(
        env, noop_max=NOOP_MAX, frame_skip=FRAME_SKIP, screen_size=SCREEN_SIZE,
        terminal_on_life_loss=False, grayscale_obs=True, scale_obs=False,
    )
    env = FrameStack(env, STACK_SIZE)
    return gym.wrappers.TimeLimit(env, max_episode_steps)
