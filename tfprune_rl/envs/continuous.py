"""Continuous-control envs (MuJoCo locomotion, Pendulum) and their TF-Agents specs."""

import gymnasium as gym
import numpy as np
import tensorflow as tf
from tf_agents.specs import tensor_spec

from tfprune_rl.console import without_noise
from tfprune_rl.envs.ids import CONTINUOUS_ENV_EXAMPLES, check_env_id
from tfprune_rl.envs.mujoco_frames import States



def make_continuous_env(env_id: str, render_mode: str | None = None) -> gym.Env:
    """With `render_mode="rgb_array"`, a MuJoCo env renders its states, which another process
    draws (`mujoco_frames`); other envs render frames themselves."""
    check_env_id(env_id, CONTINUOUS_ENV_EXAMPLES)
    mujoco = "mujoco" in str(gym.spec(env_id).entry_point)
    with without_noise():  # MuJoCo's notice about gymnasium's own model files
        env = gym.make(env_id, render_mode=None if mujoco else render_mode)
    if mujoco and render_mode:
        env = States(env, env_id)
    if not isinstance(env.action_space, gym.spaces.Box) or not isinstance(
            env.observation_space, gym.spaces.Box):
        raise ValueError(f"env {env_id!r} has action space {env.action_space} and observation "
                         f"space {env.observation_space}; expected {CONTINUOUS_ENV_EXAMPLES}")
    return env


def continuous_specs(env: gym.Env):
    """Float32 observation spec and bounded action spec, as the actor and critic take them."""
    box, actions = env.observation_space, env.action_space
    observation_spec = tf.TensorSpec(box.shape, tf.float32, name="observation")
    action_spec = tensor_spec.BoundedTensorSpec(
        actions.shape, tf.float32, minimum=actions.low.astype(np.float32),
        maximum=actions.high.astype(np.float32), name="action")
    return observation_spec, action_spec
