"""End to end through the command line, as a user runs it."""

import glob
import json
import os
import shutil
import signal
import time

import numpy as np
import pytest
import tensorflow as tf

import cli
from tfprune_rl.export import saved_kernels

pytestmark = pytest.mark.slow

# Small runs for resume and determinism: 2,500 updates, masks every 100 within [500, 2000].
TINY = ["--num_env_steps=3000", "--learning_starts=500", "--pruning_frequency=100",
        "--checkpoint_interval=1000", "--eval_interval=1500", "--log_interval=1000",
        "--eval_episodes=2", "--width=2", "--diagnostics_period=500"]


def _scalars(root_dir, tag) -> list[float]:
    return [value for _, value in cli.scalars(root_dir).get(tag, [])]


def _jsonl_rows(root_dir, name="diagnostics.jsonl") -> list[dict]:
    with open(os.path.join(root_dir, name)) as f:
        return [json.loads(line) for line in f]


@pytest.mark.parametrize("run", ["pruned", "dense"])
def test_default_budget_learns_cartpole(default_runs, run):
    """Solved (475 of 500) at some evaluation, and far above random (about 22) at the end: 4x
    random, the bar of the MinAtar learning test. DQN's CartPole returns swing between
    evaluations (this run: 500 at 30k and 40k env steps, 94.2 at 50k), so the last one alone is
    a lottery."""
    final = cli.metrics(default_runs[0][run])
    assert final["env_steps"] == 50_000
    assert len(final["eval_returns"]) == 10
    evaluations = _scalars(default_runs[0][run], "1_return/eval")
    assert len(evaluations) == 5 and max(evaluations) >= 475, evaluations
    rows = _jsonl_rows(default_runs[0][run], "evaluations.jsonl")
    assert [row["env_step"] for row in rows] == list(range(10_000, 50_001, 10_000))
    assert [row["return_mean"] for row in rows] == pytest.approx(evaluations)
    assert rows[-1]["returns"] == final["eval_returns"]
    assert final["eval_return_mean"] >= 4 * 22, evaluations


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
    assert {"2_sparsity/total", "2_sparsity/hidden_0", "2_sparsity/hidden_1",
            "2_sparsity/q_values", "6_threshold/hidden_1", "3_loss/train", "1_return/train",
            "7_train/steps_per_second", "1_return/eval"} <= tags
    assert all(" | srank " in line and "dormant(0.1) " in line for line in progress)


def test_every_diagnostic_is_in_tensorboard_and_in_the_run_metrics(default_runs):
    """Every 1,000 updates (the default period) of the 49,000 the default run makes; a row's
    key is its TensorBoard tag without the group's rank."""
    runs, _ = default_runs
    scalars = {tag.removeprefix("4_"): values
               for tag, values in cli.scalars(runs["pruned"]).items()}
    expected = {"diagnostics/srank", "diagnostics/q_variance", "diagnostics/q_norm",
                "diagnostics/param_norm"}
    for tau in ("0", "0.025", "0.1"):
        expected |= {f"diagnostics/dormant_tau_{tau}/{layer}"
                     for layer in ("hidden_0", "hidden_1", "all")}
    assert expected == {tag for tag in scalars if tag.startswith("diagnostics/")}
    rows = _jsonl_rows(runs["pruned"])
    assert [row["update"] for row in rows] == list(range(1000, 49_001, 1000))
    for tag in expected:
        assert scalars[tag] == [(row["env_step"], pytest.approx(row[tag])) for row in rows], tag
    assert 1 <= rows[-1]["diagnostics/srank"] <= 256  # 256 hidden units at width 4
    assert rows[-1]["sparsity/total"] == pytest.approx(0.95, abs=1e-4)
    assert rows[0]["sparsity/total"] == 0.0  # pruning starts at 20% of training
    assert cli.metrics(runs["pruned"])["diagnostics"] == rows[-1]


def test_flags_file_reruns_the_same_run(default_runs):
    """The first line is the command's own, and TensorFlow's and gym's start-up print nothing."""
    runs, logs = default_runs
    result = cli.run(f"--flagfile={os.path.join(runs['pruned'], 'flags.txt')}")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    run = "double_dqn on CartPole-v1, mlp x4, 95% sparse (gmp, erk), 50,000 env steps, 1 env"
    assert result.stdout.splitlines() == [
        f"{run} | {runs['pruned']} | already complete at 50,000 env steps | CPU"]
    assert logs["pruned"].splitlines()[0] == f"{run} | {runs['pruned']} | new run | CPU"


def _schedule_state(root_dir) -> dict:
    reader = tf.train.load_checkpoint(os.path.join(root_dir, "checkpoints"))
    return {key: int(reader.get_tensor(key)) for key in reader.get_variable_to_shape_map()
            if "pruning_step" in key or key.startswith(
                ("env_steps", "agent/_train_step_counter", "agent/_optimizer/_iterations",
                 "agent/_update_target/_counter"))}


def _kill_when(process, root_dir: str, when) -> tuple[bool, str]:
    """SIGKILLs `process` at `when`: ("start", s) s seconds after its first line, ("training",
    s) s seconds after its first progress line, or (a glob pattern) as soon as a file matching
    it shows up in `root_dir`. Returns whether it was killed (not ended first) and its first
    line."""
    first_line = process.stdout.readline()
    if not isinstance(when, str) and when[0] == "training":
        for line in process.stdout:
            if line.startswith(("env steps", "eval at", "done")):
                break
    deadline = time.time() + (600 if isinstance(when, str) else when[1])
    while process.poll() is None:
        if time.time() >= deadline or (isinstance(when, str)
                                       and glob.glob(os.path.join(root_dir, when))):
            process.send_signal(signal.SIGKILL)
            process.wait()
            return True, first_line
        time.sleep(0.002)
    return False, first_line


def test_sigkill_at_random_moments_resumes_to_the_uninterrupted_end_state(tmp_path):
    """A chaos run: SIGKILLed at seeded random moments and mid-write (the replay file, the TF
    checkpoint, the export), resumed each time, ends where an uninterrupted run ends (counters,
    schedule steps, per-layer sparsity; episodes cut by a restart make the weights differ),
    with every log row once and nothing half-written left behind."""
    straight, killed = str(tmp_path / "straight"), str(tmp_path / "killed")
    uninterrupted = cli.start(f"--root_dir={straight}", *TINY)
    rng = np.random.default_rng(0)
    # During start-up and compilation, during training, and mid-write: the replay file, the TF
    # checkpoint, the export.
    moments = [("start", float(rng.uniform(1, 6))) for _ in range(4)]
    moments += ["checkpoints/replay-*.npz.tmp-*", ("training", float(rng.uniform(0.1, 3))),
                "checkpoints/ckpt-*_temp"]
    moments += [("training", float(rng.uniform(0.1, 3))) for _ in range(3)]
    moments += ["export.tmp-*", ("training", float(rng.uniform(0.1, 3)))]
    kills, lines = 0, []
    for when in moments:
        killed_now, first_line = _kill_when(cli.start(f"--root_dir={killed}", *TINY), killed,
                                            when)
        kills += killed_now
        lines.append(first_line)
    cli.finish(uninterrupted)
    resumed = cli.run(f"--root_dir={killed}", *TINY)
    assert resumed.returncode == 0, resumed.stderr
    assert kills >= 8, lines  # the rest ended on their own (the run was complete)
    assert sum("resumed from env step" in line for line in lines) >= 2, lines
    leftovers = [path for path in glob.glob(os.path.join(killed, "**", "*"), recursive=True)
                 if ".tmp-" in path or path.endswith("_temp")]
    assert leftovers == []

    for key in ("env_steps", "train_steps", "layer_sparsity"):
        assert cli.metrics(killed)[key] == cli.metrics(straight)[key]
    every_500_updates = list(range(500, 2501, 500))  # the rows after the checkpoint: rewritten
    assert [row["update"] for row in _jsonl_rows(killed)] == every_500_updates
    assert [row["update"] for row in _jsonl_rows(straight)] == every_500_updates
    steps = [{tag: [step for step, _ in points] for tag, points in cli.scalars(run).items()
              if not tag.startswith("8_time_fraction/")}  # a phase idle in a window: no scalar
             for run in (killed, straight)]
    assert steps[0] == steps[1]
    for run in (killed, straight):  # the final evaluation is redone, never doubled
        assert [row["env_step"] for row in _jsonl_rows(run, "evaluations.jsonl")] == [
            1500, 3000]
    state = _schedule_state(killed)
    assert state == _schedule_state(straight)
    online_steps = [v for k, v in state.items() if k.startswith("agent/_q_network/")]
    # The update of the last mask change: 2,500 updates, masks from 20% to 80%, every 100.
    assert online_steps and set(online_steps) == {2000}


BASELINES = ["--redo_period=250", "--reset_period=700", "--weight_decay=1e-3", "--l2_normalize"]


@pytest.fixture(scope="module")
def short_runs(tmp_path_factory):
    """2,000 env steps (1,500 updates): two runs with the same seed, and one with every
    plasticity baseline on, side by side."""
    root = tmp_path_factory.mktemp("short_runs")
    runs = {name: str(root / name) for name in ("a", "b", "baselines")}
    flags = {"a": [], "b": [], "baselines": BASELINES}
    processes = {name: cli.start(f"--root_dir={run}", "--num_env_steps=2000", *TINY[1:],
                                 *flags[name]) for name, run in runs.items()}
    for process in processes.values():
        cli.finish(process)
    return runs


def test_same_seed_gives_the_same_network(short_runs):
    first, second = (saved_kernels(os.path.join(short_runs[run], "export", "saved_model"))
                     for run in ("a", "b"))
    for name, kernel in first.items():
        np.testing.assert_array_equal(kernel, second[name])


def test_baselines_together_never_revive_a_pruned_weight(short_runs):
    """ReDo every 250 updates and a reset every 700, with weight decay and normalized features:
    every weight the final masks prune is zero in the exported files, and the export (its
    actions checked against the live policy) includes the normalization."""
    run = short_runs["baselines"]
    scalars = cli.scalars(run)
    redo_steps = [step for step, _ in scalars["7_train/redo_recycled_neurons"]]
    assert redo_steps == [500 + updates for updates in range(250, 1501, 250)]
    assert max(value for _, value in scalars["7_train/redo_recycled_neurons"]) > 0
    assert [value for _, value in scalars["7_train/resets"]] == [1, 2]
    kernels = saved_kernels(os.path.join(run, "export", "saved_model"))
    reader = tf.train.load_checkpoint(os.path.join(run, "checkpoints"))  # the final state
    masks = [reader.get_tensor(f"agent/_q_network/_stack/{i}/mask/.ATTRIBUTES/VARIABLE_VALUE")
             for i in range(len(kernels))]
    assert sum(int(np.sum(m == 0)) for m in masks) / sum(m.size for m in masks) == (
        pytest.approx(0.95, abs=1e-4))
    for kernel, mask in zip(kernels.values(), masks):  # in stack order: hidden_0, hidden_1, head
        assert np.all(kernel[mask == 0] == 0)  # nothing pruned came back
    # ReDo's zeroed outgoing weights after the last mask update add zeros of their own.
    zeros = sum(int(np.sum(k == 0)) for k in kernels.values())
    assert zeros / sum(k.size for k in kernels.values()) >= 0.95 - 1e-4
    with open(os.path.join(run, "export", "report.json")) as f:
        assert json.load(f)["metadata"]["l2_normalize"] is True
    assert "7_train/redo_recycled_neurons" not in cli.scalars(short_runs["a"])


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
