"""Paper-scale settings through the command line: learning on MinAtar, an Atari run end to end."""

import glob
import os

import numpy as np
import pytest

import cli
from tfprune_rl.analysis.reference_scores import MINATAR_RANDOM
from tfprune_rl.export import saved_kernels

pytestmark = pytest.mark.slow

# MinAtar Breakout, 95% sparse: a CPU budget for CI (see README, "Tests").
MINATAR_BUDGET = [
    "--env=MinAtar/Breakout-v1", "--encoder=minatar", "--width=2", "--sparsity=0.95",
    "--num_env_steps=30000", "--learning_starts=2000", "--update_period=2", "--batch_size=32",
    "--learning_rate=1e-3", "--adam_epsilon=1e-5", "--target_update_period=500",
    "--epsilon_decay_steps=10000", "--epsilon_final=0.05", "--replay_capacity=30000",
    "--pruning_frequency=250", "--eval_interval=30000", "--eval_episodes=10",
    "--checkpoint_interval=30000", "--log_interval=5000", "--num_envs=2",
]
AGENT_FLAGS = {
    "dqn": ["--agent=dqn"],
    "rainbow_lite": ["--agent=c51", "--n_step=3", "--replay_scheme=prioritized"],
}
LEARNED_OVER_RANDOM = 4.0


@pytest.fixture(scope="module")
def minatar_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("minatar")
    processes = [cli.start(f"--root_dir={root / name}", *MINATAR_BUDGET, *flags)
                 for name, flags in AGENT_FLAGS.items()]
    for process in processes:
        cli.finish(process)
    return {name: cli.metrics(root / name) for name in AGENT_FLAGS}


@pytest.mark.parametrize("agent", sorted(AGENT_FLAGS))
def test_pruned_agent_learns_minatar_breakout(minatar_runs, agent):
    """4x a uniformly random policy (0.381 over 1,000 episodes; at least 0.5 is asked for)."""
    final = minatar_runs[agent]
    assert final["sparsity"] == pytest.approx(0.95, abs=1e-3)
    random_return = MINATAR_RANDOM["Breakout"]
    assert final["eval_return_mean"] >= LEARNED_OVER_RANDOM * max(random_return, 0.5), (
        final["eval_returns"], random_return)


ATARI = ["--env=ALE/Pong-v5", "--encoder=nature", "--width=1", "--agent=c51", "--n_step=3",
         "--replay_scheme=prioritized", "--num_env_steps=2000", "--learning_starts=500",
         "--update_period=4", "--batch_size=16", "--replay_capacity=2000",
         "--pruning_frequency=25", "--checkpoint_interval=1000", "--eval_interval=2000",
         "--eval_episodes=1", "--log_interval=1000"]


def test_atari_run_trains_checkpoints_resumes_and_exports(tmp_path):
    root_dir = str(tmp_path / "pong")
    cli.kill_after_checkpoint(cli.start(f"--root_dir={root_dir}", *ATARI), root_dir, 1000)
    replay_files = glob.glob(os.path.join(root_dir, "checkpoints", "replay-*.npz"))
    assert replay_files
    # frames stored once: about one 84x84 frame per transition, not 8 (two stacks of 4)
    assert os.path.getsize(replay_files[0]) < 2000 * 84 * 84 * 1.05

    output = cli.finish(cli.start(f"--root_dir={root_dir}", *ATARI))
    assert "resumed from env step 1,000" in output
    final = cli.metrics(root_dir)
    assert final["env_steps"] == 2000 and final["train_steps"] == (2000 - 500) // 4
    assert final["sparsity"] == pytest.approx(0.95, abs=1e-3)
    kernels = saved_kernels(os.path.join(root_dir, "export", "saved_model"))
    assert sorted(kernels) == ["conv_0", "conv_1", "conv_2", "dense_0", "q_values"]
    assert kernels["dense_0"].shape == (7 * 7 * 64, 512)
    assert np.mean(kernels["dense_0"] == 0) > 0.95
