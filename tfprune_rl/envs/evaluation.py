"""Evaluation episodes with a fixed seed, so evaluations at different steps are comparable."""

from typing import Callable

import gymnasium as gym
import numpy as np

from tfprune_rl.envs.mujoco_frames import States

EVAL_SEED_OFFSET = 10_000  # evaluation episodes are seeded apart from training's seed


def evaluate(env: gym.Env, act: Callable, num_episodes: int, seed: int,
             frames: list | None = None) -> list[float]:
    """Raw (unclipped, undiscounted) return of each of `num_episodes` episodes.

    `act` maps a batch of observations to a batch of actions (integers, or vectors). With
    `frames`, the first episode's `env.render()` frames are appended to it: rendering reads the
    env's state and draws no random number, so the returns are the same (a MuJoCo env's
    states are drawn by another process once the episodes are over).
    """
    returns = []
    observation, _ = env.reset(seed=seed)
    for episode in range(num_episodes):
        record = frames is not None and episode == 0
        if record:
            frames.append(env.render())
        episode_return, ended = 0.0, False
        while not ended:
            action = np.asarray(act(observation[np.newaxis]))[0]
            action = action.item() if action.ndim == 0 else action
            observation, reward, terminated, truncated, _ = env.step(action)
            episode_return += float(reward)
            ended = terminated or truncated
            if record:
                frames.append(env.render())
        returns.append(episode_return)
        observation, _ = env.reset()
    if frames and isinstance(env, States):
        frames[:] = env.frames(frames)
    return returns
