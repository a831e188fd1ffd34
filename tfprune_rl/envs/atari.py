"""Atari through ale-py with the paper's protocol (Machado et al. 2018, as in Dopamine).

Sticky actions 0.25, frame skip 4 with a max over the last two frames, 84x84 grayscale, up to
30 no-op starts, a stack of the last 4 frames (channels last, zeros before the episode's first
frame) and a cap of 27,000 agent steps (108,000 frames) per episode. Rewards are left raw here:
the training loop clips what it learns from and reports raw returns.

Two implementations of the same protocol: `make_atari` (gymnasium's wrappers around one ALE,
used for evaluation and single envs) and `AtariVectorEnv` (ale-py's C++ vector env, several
ALEs stepped on native threads, used to collect: 1.3 ms for 8 Pong steps against 3.0 ms with
gymnasium's subprocesses, measured on this 2-core machine). Their frames are identical for the
same actions (tests/test_envs.py). Two details differ: the C++ env draws 0-29 no-op frames at a
reset where gymnasium draws 1-30, and its 108,000-frame cap counts the no-op frames.
"""

import re

import ale_py
import ale_py.vector_env
import gymnasium as gym
import numpy as np

gym.register_envs(ale_py)
ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Error)  # no banner per emulator started

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


def atari_settings(sticky_actions: bool) -> dict:
    """The protocol, as keyword arguments of ale-py's `AtariVectorEnv`."""
    return dict(
        repeat_action_probability=STICKY_ACTION_PROBABILITY if sticky_actions else 0.0,
        frameskip=FRAME_SKIP, maxpool=True, img_height=SCREEN_SIZE, img_width=SCREEN_SIZE,
        grayscale=True, stack_num=STACK_SIZE, noop_max=NOOP_MAX,
        max_num_frames_per_episode=MAX_EPISODE_STEPS * FRAME_SKIP, full_action_space=False,
        episodic_life=False, reward_clipping=False, use_fire_reset=False)


def rom_name(env_id: str) -> str:
    """ALE/MsPacman-v5 -> ms_pacman."""
    game = env_id.split("/")[-1].rsplit("-v", 1)[0]
    return re.sub(r"(?<!^)(?=[A-Z])", "_", game).lower()


class AtariVectorEnv(gym.vector.VectorWrapper):
    """ale-py's C++ vector env with `make_atari`'s observations (stacks channels last) and
    same-step resets that hand back each ended episode's final observation."""

    def __init__(self, env_id: str, num_envs: int, sticky_actions: bool = True):
        super().__init__(ale_py.vector_env.AtariVectorEnv(
            rom_name(env_id), num_envs, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
            **atari_settings(sticky_actions)))
        space = self.env.single_observation_space
        self.single_observation_space = gym.spaces.Box(0, 255, space.shape[1:] + space.shape[:1],
                                                       np.uint8)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space,
                                                              num_envs)

    @staticmethod
    def _channels_last(stacks: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(np.moveaxis(stacks, 1, -1))

    def reset(self, **kwargs):
        observations, info = self.env.reset(**kwargs)
        return self._channels_last(observations), info

    def step(self, actions):
        observations, rewards, terminated, truncated, info = self.env.step(
            np.asarray(actions, np.int64))
        if "final_obs" in info:
            info["final_obs"] = self._channels_last(info["final_obs"])
        return self._channels_last(observations), rewards, terminated, truncated, info


def make_atari(env_id: str, sticky_actions: bool = True,
               max_episode_steps: int = MAX_EPISODE_STEPS,
               render_mode: str | None = None) -> gym.Env:
    """`sticky_actions=False` is the Atari 100k setting (Kaiser et al. 2020)."""
    env = gym.make(
        env_id,
        frameskip=1,
        repeat_action_probability=STICKY_ACTION_PROBABILITY if sticky_actions else 0.0,
        full_action_space=False,
        max_episode_steps=None,
        render_mode=render_mode,
    )
    env = gym.wrappers.AtariPreprocessing(
        env, noop_max=NOOP_MAX, frame_skip=FRAME_SKIP, screen_size=SCREEN_SIZE,
        terminal_on_life_loss=False, grayscale_obs=True, scale_obs=False,
    )
    env = FrameStack(env, STACK_SIZE)
    return gym.wrappers.TimeLimit(env, max_episode_steps)
