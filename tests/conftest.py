"""Shared fixtures. Importing tfprune_rl first selects Keras 2 before TensorFlow loads."""

import os
import subprocess
import sys

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


def run_train_cli(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """`python -m tfprune_rl.train ARGS` in a fresh process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "tfprune_rl.train", *args],
        capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT,
    )
