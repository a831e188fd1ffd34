"""End to end through the command line, as a user runs it."""

import glob
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

import cli
from tfprune_rl.export import saved_kernels

pytestmark = pytest.mark.slow

# Small runs for resume and determinism: 3,500 updates, masks every 100 within [700, 2800].
TINY = ["--num_env_steps=4000", "--learning_starts=500", "--pruning_frequency=100",
        "--checkpoint_interval=1000", "--eval_interval=4000", "--log_interval=1000",
        "--eval_episodes=2", "--width=2"]


def _scalars(root_dir, tag) -> list[float]:
    values = []
    for path in sorted(glob.glob(os.path.join(root_dir, "tensorboard", "events.*"))):
        for event in tf.compat.v1.train.summary_iterator(path):
            values += [tf.make_ndarray(v.tensor).item() for v in event.summary.value if v.tag == tag]
    return values


@pytest.mark.parametrize("run", ["pruned", "dense"])
def test_default_budget_learns_cartpole(default_runs, run):
    """Solved (475 of 500) at some evaluation, and far above random (about 22) at the end:
    DQN's CartPole returns swing between evaluations, so the last one alone is a lottery."""
    final = cli.metrics(default_runs[0][run])
    assert final["env_steps"] == 50_000
    assert len(final["eval_returns"]) == 10
    evaluations = _scalars(default_runs[0][run], "eval/return")
    assert len(evaluations) == 5 and max(evaluations) >= 475, evaluations
    assert final["eval_return_mean"] >= 150, evaluations


def test_pruned_run_is_95_percent_sparse_in_its_exported_files(default_runs):
    runs, _ = default_runs
    kernels = saved_kernels(os.path.join(runs["pruned"], "export", "saved_model"))
    zeros = sum(int(np.sum(k == 0)) for k in kernels.values())
    assert zeros / sum(k.size for k in kernels.values()) == pytest.approx(0.95, abs=1e-4)
    assert cli.metrics(runs["pruned"])["sparsity"] == pytest.approx(0.95, abs=1e-4)
    assert cli.metrics(runs["dense"])["sparsity"] < 0.01


def test_progress_lines_and_tensorboard_scalars(default_runs):
    runs, logs = default_runs
    progress = [line for line in logs["pruned"].splitlines() if line.startswith("env steps")]
    assert len(progress) == 25  # every 2,000 of 50,000 env steps
    assert all("steps/s" in line and "return" in line and "sparsity" in line for line in progress)
    tags = set()
    for path in glob.glob(os.path.join(runs["pruned"], "tensorboard", "events.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            tags.update(value.tag for value in event.summary.value)
    assert {"sparsity/total", "sparsity/hidden_0", "sparsity/hidden_1", "sparsity/q_values",
            "threshold/hidden_1", "train/loss", "train/return", "train/steps_per_second",
            "eval/return"} <= tags


def test_flags_file_reruns_the_same_run(default_runs):
    runs, _ = default_runs
    result = cli.run(f"--flagfile={os.path.join(runs['pruned'], 'flags.txt')}")
    assert result.returncode == 0, result.stderr
    assert "already complete at 50,000 env steps" in result.stdout


def _schedule_state(root_dir) -> dict:
    reader = tf.train.load_checkpoint(os.path.join(root_dir, "checkpoints"))
    return {key: int(reader.get_tensor(key)) for key in reader.get_variable_to_shape_map()
            if "pruning_step" in key or key.startswith(
                ("env_steps", "agent/_train_step_counter", "agent/_optimizer/_iterations",
                 "agent/_update_target/_counter"))}


def test_killed_run_resumes_to_the_same_end_state(tmp_path):
    straight, killed = str(tmp_path / "straight"), str(tmp_path / "killed")
    uninterrupted = cli.start(f"--root_dir={straight}", *TINY)
    interrupted = cli.start(f"--root_dir={killed}", *TINY)
    cli.kill_after_checkpoint(interrupted, killed, 2000)
    cli.finish(uninterrupted)
    resumed = cli.run(f"--root_dir={killed}", *TINY)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from env step 2,000" in resumed.stdout

    for key in ("env_steps", "train_steps", "layer_sparsity"):
        assert cli.metrics(killed)[key] == cli.metrics(straight)[key]
    state = _schedule_state(killed)
    assert state == _schedule_state(straight)
    online_steps = [v for k, v in state.items() if k.startswith("agent/_q_network/")]
    assert online_steps and set(online_steps) == {3500}  # one schedule step per gradient update


def test_same_seed_gives_the_same_network(tmp_path):
    runs = [str(tmp_path / name) for name in ("a", "b")]
    for process in [cli.start(f"--root_dir={run}", "--num_env_steps=2000", *TINY[1:]) for run in runs]:
        cli.finish(process)
    first, second = (saved_kernels(os.path.join(run, "export", "saved_model")) for run in runs)
    for name, kernel in first.items():
        np.testing.assert_array_equal(kernel, second[name])


BAD_INPUT = {  # more bad values: tests/test_presets.py
    "--env=Nope-v9": "unknown env 'Nope-v9'",
    "--sparsity=1.0": "sparsity=1.0 must be in [0, 1)",
    "--width=zero": "flag --width=zero: invalid literal for int()",
}


def test_bad_input_is_one_clear_line_and_writes_nothing(tmp_path):
    processes = {flag: cli.start(f"--root_dir={tmp_path / str(index)}", flag)
                 for index, flag in enumerate(BAD_INPUT)}
    for flag, process in processes.items():
        result = cli.wait(process)
        assert result.returncode == 1
        last_line = result.stderr.strip().splitlines()[-1]
        assert last_line.startswith(f"tfprune-train: error: {BAD_INPUT[flag]}"), last_line
        assert result.stdout == ""
    assert os.listdir(tmp_path) == []


def test_existing_run_with_different_flags_is_refused_untouched(default_runs, tmp_path):
    root_dir = tmp_path / "run"
    (root_dir / "checkpoints").mkdir(parents=True)
    shutil.copy(os.path.join(default_runs[0]["pruned"], "flags.txt"), root_dir / "flags.txt")
    (root_dir / "checkpoints" / "checkpoint").write_text("kept")
    before = {p: p.read_bytes() for p in root_dir.rglob("*") if p.is_file()}
    result = cli.run(f"--flagfile={root_dir / 'flags.txt'}", f"--root_dir={root_dir}",
                           "--width=2")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"tfprune-train: error: root_dir {root_dir} holds a run with different flags: "
        "--width=2 (run has 4); pass the same flags to resume it, or choose another --root_dir")
    assert {p: p.read_bytes() for p in root_dir.rglob("*") if p.is_file()} == before
