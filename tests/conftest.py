"""Shared fixtures. Importing tfprune_rl first selects Keras 2 before TensorFlow loads."""

import fcntl
import json
import os

import pytest

import tfprune_rl  # noqa: F401  (must precede tensorflow)
import cli
from tf_agents.trajectories import time_step as ts

from tfprune_rl.envs import env_specs, make_gym_env

REPO_ROOT = cli.REPO_ROOT


@pytest.fixture(scope="session")
def cartpole_specs():
    """(time_step_spec, action_spec) of CartPole-v1 as TensorSpecs."""
    observation_spec, action_spec = env_specs(make_gym_env("CartPole-v1"))
    return ts.time_step_spec(observation_spec), action_spec


@pytest.fixture(scope="session")
def default_runs(tmp_path_factory):
    """The built-in default (double DQN, CartPole-v1, width 4, 95% sparse, seed 0) and its
    dense twin, trained once through the command line for every module that reads them. The
    dense run records its transitions: the offline tests' dataset. Trained once per test
    session: pytest-xdist's workers share the runs through a locked directory."""
    session = tmp_path_factory.getbasetemp()  # a worker's own folder under the session's
    root = (session.parent if "PYTEST_XDIST_WORKER" in os.environ else session) / "default_runs"
    root.mkdir(exist_ok=True)
    runs = {"pruned": str(root / "pruned"), "dense": str(root / "dense")}
    with open(root / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the other workers wait for the first one's runs
        if not (root / "logs.json").exists():
            processes = {
                "pruned": cli.start(f"--root_dir={runs['pruned']}"),
                "dense": cli.start(f"--root_dir={runs['dense']}", "--sparsity=0",
                                   "--record_dataset"),
            }
            logs = {name: cli.finish(process) for name, process in processes.items()}
            (root / "logs.json").write_text(json.dumps(logs))
        return runs, json.loads((root / "logs.json").read_text())
