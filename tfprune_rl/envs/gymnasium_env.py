"""gymnasium -> TF-Agents `PyEnvironment` (tf-agents 0.19 only knows gym <= 0.23).

A terminated episode ends with discount 0 (no bootstrap); a truncated one (time limit) ends
with discount 1, so the agent still bootstraps from the last observation.
"""

import gymnasium as gym
import numpy as np
from tf_agents.environments import py_environment
from tf_agents.specs import array_spec
from tf_agents.trajectories import time_step as ts


def make_env(env_id: str, seed: int) -> "GymnasiumEnvironment":
    """A registered gymnasium env with a Box observation and a Discrete action space."""
    try:
        gym.spec(env_id)
    except gym.error.Error:
        raise ValueError(
            f"unknown env {env_id!r}: not a registered gymnasium id "
            "(for example CartPole-v1, Acrobot-v1, MountainCar-v0)"
        ) from None
    return GymnasiumEnvironment(gym.make(env_id), seed)


class GymnasiumEnvironment(py_environment.PyEnvironment):
    def __init__(self, env: gym.Env, seed: int):
        super().__init__(handle_auto_reset=True)
        if not isinstance(env.action_space, gym.spaces.Discrete):
            raise ValueError(
                f"env {env.spec.id!r} has action space {env.action_space}; "
                "value-based agents here need a Discrete one"
            )
        if not isinstance(env.observation_space, gym.spaces.Box):
            raise ValueError(
                f"env {env.spec.id!r} has observation space {env.observation_space}; "
                "only Box observations are supported"
            )
        self._env = env
        self._seed = seed
        box = env.observation_space
        self._observation_spec = array_spec.BoundedArraySpec(
            box.shape, box.dtype, minimum=box.low, maximum=box.high, name="observation"
        )
        space = env.action_space
        self._action_spec = array_spec.BoundedArraySpec(
            (), np.int64, minimum=space.start, maximum=space.start + space.n - 1, name="action"
        )

    def observation_spec(self):
        return self._observation_spec

    def action_spec(self):
        return self._action_spec

    def reseed(self, seed: int) -> None:
        """The next reset starts from `seed`; later resets continue its random stream."""
        self._seed = seed

    def _reset(self):
        observation, _ = self._env.reset(seed=self._seed)
        self._seed = None
        return ts.restart(np.asarray(observation, self._observation_spec.dtype))

    def _step(self, action):
        observation, reward, terminated, truncated, _ = self._env.step(int(action))
        observation = np.asarray(observation, self._observation_spec.dtype)
        reward = np.float32(reward)
        if terminated:
            return ts.termination(observation, reward)
        if truncated:
            return ts.truncation(observation, reward, discount=np.float32(1.0))
        return ts.transition(observation, reward, discount=np.float32(1.0))

    def close(self):
        self._env.close()
