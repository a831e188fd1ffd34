"""Environments as TF-Agents PyEnvironments."""

from tfprune_rl.envs.gymnasium_env import GymnasiumEnvironment, make_env

__all__ = ["GymnasiumEnvironment", "make_env"]
