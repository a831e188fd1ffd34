"""Shared fixtures. Importing tfprune_rl first selects Keras 2 before TensorFlow loads."""

import os

import pytest

import tfprune_rl  # noqa: F401  (must precede tensorflow)
from tf_agents.specs import tensor_spec

from tfprune_rl.envs import make_env

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="session")
def cartpole_specs():
    """(time_step_spec, action_spec) of CartPole-v1 as TensorSpecs."""
    env = make_env("CartPole-v1", seed=0)
    return tensor_spec.from_spec(env.time_step_spec()), tensor_spec.from_spec(env.action_spec())

