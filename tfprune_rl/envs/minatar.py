"""MinAtar (Young & Tian 2019): 10x10 Atari-like games, pure Python, fast on a CPU.

MinAtar keeps its own protocol (sticky actions 0.1, difficulty ramping). Its boolean
observation channels become uint8 0/1 so the replay buffer and networks see one dtype family.
"""

import gymnasium as gym
import minatar.gym
import numpy as np

if not any(env_id.startswith("MinAtar/") for env_id in gym.registry):
    minatar.gym.register_envs()


def make_minatar(env_id: str, render_mode: str | None = None) -> gym.Env:
    """`render_mode="rgb_array"` renders the state's channels in MinAtar's palette, 10 x 10, as
    floats (`video.rgb_frame` makes them pixels): gymnasium's checker, which would warn about
    that and the missing frame rate, is off."""
    env = gym.make(env_id, render_mode=render_mode, disable_env_checker=True)
    space = env.observation_space
    return gym.wrappers.TransformObservation(
        env, lambda observation: observation.astype(np.uint8),
        gym.spaces.Box(0, 1, space.shape, np.uint8),
    )
