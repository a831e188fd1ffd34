"""Shared fixtures. Importing tfprune_rl first selects Keras 2 before TensorFlow loads."""

import os

import pytest

import tfprune_rl  # noqa: F401  (must precede tensorflow)
from tf_agents.trajectories import time_step as ts

from tfprune_rl.envs import env_specs, make_gym_env

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="session")
def cartpole_specs():
    """(time_step_spec, action_spec) of CartPole-v1 as TensorSpecs."""
    observation_spec, action_spec = env_specs(make_gym_env("CartPole-v1"))
    return ts.time_step_spec(observation_spec), action_spec
