"""Sweeps: the grid's trials and ids, skipping and failure handling (with a stand-in backend),
and real sweeps of tiny CartPole trials on local processes and on a local Ray instance."""

import json
import os
import re
import subprocess
import sys
import time

import pytest

import cli
from conftest import REPO_ROOT
from tfprune_rl.sweeps import expand, is_finished, log_path, parse_grid, run_dir, run_sweep, runner
from tfprune_rl.lifecycle.run_dir import run_dir_holder


def test_grid_expands_to_every_combination_with_stable_ids():
    trials = expand(["MinAtar/Breakout-v1", "CartPole-v1"],
                    parse_grid(["width=1,3", "sparsity=0,0.95"]), seeds=2)
    assert len(trials) == 16
    assert trials[0].run_id == "MinAtar-Breakout-v1/sparsity=0,width=1/seed0"
    assert trials[-1].run_id == "CartPole-v1/sparsity=0.95,width=3/seed1"
    assert len({trial.run_id for trial in trials}) == 16
    reordered = expand(["MinAtar/Breakout-v1", "CartPole-v1"],
                       parse_grid(["--sparsity=0,0.95", "width=1,3"]), seeds=2)
    assert [t.run_id for t in reordered] == [t.run_id for t in trials]
    args = trials[-1].trainer_args(["experiments/minatar/dqn.flags"], "/sweeps/a")
    assert args == [f"--flagfile={os.path.abspath('experiments/minatar/dqn.flags')}",
                    "--env=CartPole-v1", "--seed=1", "--sparsity=0.95", "--width=3",
                    "--root_dir=/sweeps/a/CartPole-v1/sparsity=0.95,width=3/seed1"]
    assert expand(["CartPole-v1"], {}, 1)[0].run_id == "CartPole-v1/base/seed0"


@pytest.mark.parametrize("entries, message", [
    (["width"], "must look like name=value1,value2"),
    (["seed=1,2"], "seed is set by the sweep itself"),
    (["width=1", "width=3"], "width is given twice"),
    (["width=1,1"], "values must be distinct and non-empty"),
    (["width=1,,3"], "values must be distinct and non-empty"),
])
def test_bad_grid_entries_are_named(entries, message):
    with pytest.raises(ValueError, match=message):
        parse_grid(entries)


def test_expand_refuses_no_games_and_no_seeds():
    with pytest.raises(ValueError, match="games is empty"):
        expand([], {}, 1)
    with pytest.raises(ValueError, match="seeds=0 must be at least 1"):
        expand(["CartPole-v1"], {}, 0)


class _StandInBackend:
    """Ends each trial at once: writes metrics.json, or fails the trials in `failing`."""

    capacity = 2

    def __init__(self, failing=()):
        self.failing, self.started = set(failing), []

    def start(self, args, log):
        root_dir = args[-1].split("=", 1)[1]
        self.started.append(root_dir)
        if any(root_dir.endswith(run_id) for run_id in self.failing):
            return 1
        os.makedirs(root_dir, exist_ok=True)
        with open(os.path.join(root_dir, "metrics.json"), "w") as f:
            json.dump({}, f)
        return 0

    def poll(self, code):
        return code

    def stop(self, code):
        raise AssertionError("nothing to stop")


def test_finished_trials_are_skipped_and_a_failure_does_not_stop_the_others(tmp_path):
    root = str(tmp_path)
    trials = expand(["CartPole-v1"], parse_grid(["width=1,2,3"]), seeds=2)
    backend = _StandInBackend()
    first = run_sweep(trials[:2], [], root, backend, 2, 60, log=lambda line: None,
                      poll_interval=0)
    assert first.finished == [t.run_id for t in trials[:2]] and not first.failed
    lines = []
    backend = _StandInBackend(failing=[trials[3].run_id])
    second = run_sweep(trials, [], root, backend, 2, 60, log=lines.append, poll_interval=0)
    assert second.skipped == [t.run_id for t in trials[:2]]
    assert backend.started == [run_dir(root, t) for t in trials[2:]]
    assert second.failed == {trials[3].run_id: log_path(root, trials[3])}
    assert second.finished == [t.run_id for t in trials[2:] if t != trials[3]]
    assert all(is_finished(root, t) for t in trials if t != trials[3])
    assert f"trial {trials[3].run_id} failed (exit 1); log: {log_path(root, trials[3])}" in (
        lines[1])
    assert lines[-1].startswith("sweep: 5/6 done, 0 running, 1 failed, 0 pending")


# Tiny CartPole trials: a checkpoint and an evaluation every 300 env steps.
TINY_TRAINER_FLAGS = ["--num_env_steps=600", "--learning_starts=200", "--pruning_frequency=50",
                      "--eval_interval=300", "--eval_episodes=1", "--checkpoint_interval=300",
                      "--log_interval=300", "--diagnostics_period=100", "--hidden_units=16,16"]
RUN_IDS = ["CartPole-v1/sparsity=0,width=1/seed0", "CartPole-v1/sparsity=0.9,width=1/seed0"]


def _definition(tmp_path, *extra_trainer_flags) -> list[str]:
    flagfile = tmp_path / "tiny.flags"
    flagfile.write_text("\n".join([*TINY_TRAINER_FLAGS, *extra_trainer_flags]) + "\n")
    return [f"--trainer_flagfile={flagfile}", "--games=CartPole-v1", "--grid=sparsity=0,0.9",
            "--grid=width=1", "--seeds=1", "--progress_interval=5"]


def _sweep(*args) -> subprocess.CompletedProcess:
    return cli.run(*args, module="tfprune_rl.sweep_cli")


def _finished_ids(root) -> list[str]:
    return sorted(os.path.relpath(directory, root) for directory, _, files in os.walk(root)
                  if "metrics.json" in files)


def _log(root, run_id) -> str:
    with open(os.path.join(root, "logs", run_id + ".log")) as f:
        return f.read()


def _attempts(root, run_id) -> int:
    return len(re.findall(r"^== ", _log(root, run_id), re.MULTILINE))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_trial_another_process_holds_waits_and_never_gets_a_second_trainer(tmp_path):
    """A trainer left by an earlier sweep holds its run directory: the new sweep reports it,
    starts the other trial, and skips the held one once its holder finished it."""
    root = str(tmp_path)
    held = os.path.join(root, RUN_IDS[0])
    holder = subprocess.Popen(  # a stand-in trainer: takes the lock, finishes on request
        [sys.executable, "-c", "import os, sys; from tfprune_rl.lifecycle.run_dir import "
         "lock_run_dir; lock_run_dir(sys.argv[1]); print('locked', flush=True); "
         "sys.stdin.readline(); open(os.path.join(sys.argv[1], 'metrics.json'), 'w').write('{}')",
         held], cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "locked\n"
    trials = expand(["CartPole-v1"], parse_grid(["sparsity=0,0.9", "width=1"]), 1)
    backend, lines = _StandInBackend(), []

    def log(line):
        lines.append(line)
        if "held" in line:  # reported: its holder now finishes it and exits
            holder.communicate("done\n")

    outcome = run_sweep(trials, [], root, backend, parallel=2, progress_interval=1e9,
                        log=log, poll_interval=0.05)
    assert lines[1] == (f"sweep: trial {RUN_IDS[0]} is held by another process "
                        f"(pid {holder.pid}); waiting for it to end")
    assert backend.started == [os.path.join(root, RUN_IDS[1])]
    assert outcome.skipped == [RUN_IDS[0]] and outcome.finished == [RUN_IDS[1]]


@pytest.mark.slow
def test_a_killed_sweep_resumes_its_trials_then_skips_them_and_reports(tmp_path):
    definition = _definition(tmp_path, "--num_env_steps=3000")
    root = str(tmp_path / "local")
    sweep = subprocess.Popen(
        [sys.executable, "-m", "tfprune_rl.sweep_cli", *definition, f"--root_dir={root}",
         "--parallel=2"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    indexes = [os.path.join(root, run_id, "checkpoints", "checkpoint") for run_id in RUN_IDS]
    deadline = time.time() + 600
    while not all(os.path.exists(index) for index in indexes):  # both trials mid-run
        assert sweep.poll() is None and time.time() < deadline, sweep.stdout.read()
        time.sleep(0.2)
    trainers = [run_dir_holder(os.path.join(root, run_id)) for run_id in RUN_IDS]
    assert all(trainers), trainers
    sweep.kill()  # the sweep alone: its trainers must die with it (parent-death signal)
    sweep.wait()
    deadline = time.time() + 30
    while any(_alive(pid) for pid in trainers):
        assert time.time() < deadline, f"trainers {trainers} outlived their killed sweep"
        time.sleep(0.2)
    assert _finished_ids(root) == []

    resumed = _sweep(*definition, f"--root_dir={root}")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "sweep: 2/2 done, 0 running, 0 failed, 0 pending" in resumed.stdout
    assert _finished_ids(root) == RUN_IDS
    assert [_attempts(root, run_id) for run_id in RUN_IDS] == [2, 2]
    for run_id in RUN_IDS:
        assert re.search(r"resumed from env step \d", _log(root, run_id))
        assert cli.metrics(os.path.join(root, run_id))["env_steps"] == 3000

    again = _sweep(*definition, f"--root_dir={root}")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "2 trials in" in again.stdout and "2 already finished" in again.stdout
    assert [_attempts(root, run_id) for run_id in RUN_IDS] == [2, 2]  # nothing re-ran
    changed = _sweep(*_definition(tmp_path, "--num_env_steps=3000", "--eval_episodes=2"),
                     f"--root_dir={root}")
    assert changed.returncode == 1
    assert changed.stderr.strip().splitlines()[-1].startswith(
        f"tfprune-sweep: error: trial {RUN_IDS[0]}: root_dir ")
    assert "--eval_episodes=2 (run has 1)" in changed.stderr
    assert [_attempts(root, run_id) for run_id in RUN_IDS] == [2, 2]

    report = cli.run(f"--root_dir={root}", "--reps=200", module="tfprune_rl.plot_cli")
    assert report.returncode == 0, report.stderr[-3000:]
    assert "| sparsity=0.0 | 1 |" in report.stdout and "| sparsity=0.9 | 1 |" in report.stdout
    assert sorted(os.listdir(os.path.join(root, "report"))) == [
        "aggregate.csv", "aggregate.json", "aggregate.md", "diagnostics_CartPole-v1.png",
        "iqm_vs_sparsity.png", "sample_efficiency.png"]


@pytest.mark.slow
def test_the_same_sweep_runs_on_a_local_ray_instance(tmp_path):
    root = str(tmp_path / "ray")
    result = _sweep(*_definition(tmp_path), f"--root_dir={root}", "--backend=ray")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "running 2 at a time" in result.stdout
    assert _finished_ids(root) == RUN_IDS
    for run_id in RUN_IDS:
        assert cli.metrics(os.path.join(root, run_id))["env_steps"] == 600


def test_eta_reads_online_and_offline_progress_lines(tmp_path):
    path = tmp_path / "trial.log"
    path.write_text("env steps 20,000/100,000 | 90 steps/s\n")
    assert runner._fraction_done(str(path)) == pytest.approx(0.2)
    path.write_text("dataset d (recorded): 10 rows\nupdates 5,000/25,000 | 50 updates/s\n")
    assert runner._fraction_done(str(path)) == pytest.approx(0.2)
