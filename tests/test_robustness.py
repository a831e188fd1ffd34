"""What goes wrong in long sweeps: divergence stops a run, a run directory has one owner, a
damaged checkpoint falls back to an older one, and bad input is one line."""

import json
import os
import resource
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import cli
from conftest import REPO_ROOT
from tfprune_rl.settings import config_with
from tfprune_rl import pruning
from tfprune_rl.export import ExportCheckError, export_network
from tfprune_rl.networks import QNetwork
from tfprune_rl.value_based import TrainConfig, value_based_trainer, train
from tfprune_rl.lifecycle.checkpoints import CheckpointError
from tfprune_rl.lifecycle.recent_returns import RecentReturns
from tfprune_rl.lifecycle.runner import Stopped
from tfprune_rl.lifecycle.run_dir import checkpoint_steps
from tfprune_rl.lifecycle.run_dir import lock_run_dir


class _Killed(Exception):
    """Stands in for a SIGKILL at a known point (the runner saves nothing after it)."""


def _config(root_dir, **overrides) -> TrainConfig:
    settings = dict(env="CartPole-v1", agent="dqn", width=1, hidden_units=(16, 16),
                    sparsity=0.9, num_env_steps=1500, learning_starts=200,
                    pruning_frequency=50, eval_interval=250,
                    eval_episodes=1, checkpoint_interval=250, log_interval=250,
                    diagnostics_period=100, diagnostics_batch_size=64)
    return config_with(TrainConfig, root_dir=str(root_dir), **{**settings, **overrides})


@pytest.fixture(scope="module")
def interrupted_run(tmp_path_factory):
    """A run stopped right after its checkpoint at env step 750: ckpt-500 and ckpt-750 kept."""
    root_dir = tmp_path_factory.mktemp("interrupted") / "run"

    def log(line):
        if line.startswith("env steps 1,000/"):
            raise _Killed(line)

    with pytest.raises(_Killed):
        train(_config(root_dir), log)
    assert checkpoint_steps(str(root_dir / "checkpoints")) == [500, 750]
    return root_dir


def stop_at_first_line(line):
    raise _Killed(line)


def _truncate(path):
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)


def _overwrite(path):
    with open(path, "wb") as f:
        f.write(b"\x89not a checkpoint\xff" * 50)


DAMAGE = {  # what is damaged -> (how, the reason the warning names)
    "ckpt-750.data-00000-of-00001": (_truncate, "ckpt-750: "),
    "ckpt-750.index": (_truncate, "ckpt-750: "),
    "replay-750.npz": (_truncate, "ckpt-750: BadZipFile"),
    "replay-750.npz ": (_overwrite, "ckpt-750: ValueError"),  # trailing space: a second case
    "checkpoint": (_overwrite, None),  # TensorFlow's index: never trusted, so nothing to skip
}


@pytest.mark.parametrize("name", DAMAGE)
def test_a_damaged_checkpoint_falls_back_to_the_newest_readable_one(interrupted_run, tmp_path,
                                                                    name):
    root_dir = tmp_path / "run"
    shutil.copytree(interrupted_run, root_dir)
    damage, reason = DAMAGE[name]
    damage(root_dir / "checkpoints" / name.strip())
    (root_dir / "checkpoints" / "ckpt-1000_temp").mkdir()  # a killed TF checkpoint write
    (root_dir / "export.tmp-999999").mkdir()  # a killed export
    (root_dir / "evaluations.jsonl.tmp-999999").write_text("half a row")
    lines = []
    metrics = train(_config(root_dir), lines.append)
    resumed_from = 750 if reason is None else 500
    assert f"| resumed from env step {resumed_from} |" in lines[0]
    warnings = [line for line in lines if line.startswith("warning: skipped")]
    if reason is None:
        assert warnings == []
    else:
        [warning] = warnings
        assert warning.startswith(f"warning: skipped unreadable checkpoint(s) {reason}")
        assert warning.endswith("; resumed from env step 500")
    assert lines[1].startswith("removed what a killed process left: ")
    assert metrics["env_steps"] == 1500
    leftovers = [path for path in root_dir.rglob("*") if "tmp-" in path.name
                 or path.name.endswith("_temp")]
    assert leftovers == []
    with open(root_dir / "evaluations.jsonl") as f:
        assert [json.loads(row)["env_step"] for row in f] == list(range(250, 1501, 250))
    with open(root_dir / "diagnostics.jsonl") as f:
        updates = [json.loads(row)["update"] for row in f]
    assert updates == list(range(100, updates[-1] + 1, 100)) and updates[-1] >= 1200
    for tag, points in cli.scalars(root_dir).items():  # the steps after the checkpoint: once
        steps = [step for step, _ in points]
        assert steps == sorted(set(steps)), tag
    assert [step for step, _ in cli.scalars(root_dir)["1_return/eval"]] == list(
        range(250, 1501, 250))
    index = tf.train.get_checkpoint_state(str(root_dir / "checkpoints"))  # whole again
    assert index.model_checkpoint_path.endswith("ckpt-1500")


def test_a_progress_line_before_any_episode_ends_says_so_and_then_means_the_last_ones():
    """A run just started or resumed has no episode return until one ends."""
    recent = RecentReturns(size=3)
    assert (str(recent), recent.mean()) == ("return - (no episode ended yet)", None)
    recent.add(np.array([1.0, 2.0]))
    recent.add(4.0)
    recent.add(np.array([8.0]))
    assert recent.mean() == pytest.approx(np.mean([2.0, 4.0, 8.0]))
    assert str(recent) == "return 4.7 (last 3 episodes)"


def test_a_stop_signal_checkpoints_the_step_reached_and_the_run_resumes_there(interrupted_run,
                                                                            tmp_path):
    """SIGTERM (a sweep stopping its trials) makes the step under way, checkpoints it (between
    interval checkpoints), and stops; the same command resumes from that step."""
    root_dir = tmp_path / "run"
    shutil.copytree(interrupted_run, root_dir)  # stopped at env step 1,000, checkpoint at 750

    def log(line):
        if line.startswith("env steps 1,000/"):
            os.kill(os.getpid(), signal.SIGTERM)

    handler = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Stopped, match="^stopped by SIGTERM at env step 1,001, checkpointed "
                                      "there: run the same command to resume$"):
        train(_config(root_dir), log)
    assert signal.getsignal(signal.SIGTERM) is handler
    assert checkpoint_steps(str(root_dir / "checkpoints"))[-1] == 1001
    with open(root_dir / "evaluations.jsonl") as f:
        assert [json.loads(row)["env_step"] for row in f] == [250, 500, 750, 1000]
    with pytest.raises(_Killed, match=r"\| resumed from env step 1,001 \|"):
        train(_config(root_dir), stop_at_first_line)


def test_a_second_ctrl_c_stops_at_once(tmp_path):
    root_dir = tmp_path / "run"

    def log(line):
        if line.startswith("env steps 250/"):
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)

    handler = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        train(_config(root_dir), log)
    assert signal.getsignal(signal.SIGINT) is handler
    assert checkpoint_steps(str(root_dir / "checkpoints")) == []  # 250's comes after the line


def test_no_readable_checkpoint_is_one_error_and_deletes_nothing(interrupted_run, tmp_path):
    root_dir = tmp_path / "run"
    shutil.copytree(interrupted_run, root_dir)
    for step in (500, 750):
        _truncate(root_dir / "checkpoints" / f"ckpt-{step}.index")
    before = sorted(str(path) for path in root_dir.rglob("*"))
    with pytest.raises(CheckpointError, match=r"no checkpoint in .* can be read \(ckpt-750: "
                                              r".*; ckpt-500: .*\); nothing was deleted"):
        train(_config(root_dir), lambda line: None)
    assert sorted(str(path) for path in root_dir.rglob("*")) == before


def test_a_diverged_run_stops_at_its_first_train_call_and_keeps_finite_checkpoints(tmp_path):
    root_dir = tmp_path / "run"
    result = cli.run(f"--root_dir={root_dir}", "--learning_rate=1e30", "--num_env_steps=2000",
                     "--learning_starts=500", "--update_period=1", "--checkpoint_interval=200",
                     "--log_interval=1000", "--hidden_units=16,16", "--width=1",
                     "--pruning_frequency=100")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("tfprune-train: error: training diverged: loss ")
    first_bad = int(line.split(" at update ")[1].split(";")[0])
    assert first_bad <= 3  # the first updates' own losses: no run on NaN past them
    assert line.endswith("likely cause: --learning_rate=1e+30 or --adam_epsilon=1e-08 "
                         "(lower the first, raise the second)")
    assert not (root_dir / "export").exists() and not (root_dir / "metrics.json").exists()
    checkpoints = str(root_dir / "checkpoints")
    assert checkpoint_steps(checkpoints) == [200, 400]
    reader = tf.train.load_checkpoint(os.path.join(checkpoints, "ckpt-400"))
    for name, dtype in reader.get_variable_to_dtype_map().items():
        if dtype.is_floating:
            assert np.all(np.isfinite(reader.get_tensor(name))), name


def test_q_estimates_beyond_what_rewards_allow_warn_once(tmp_path):
    lines = []
    trainer = value_based_trainer(_config(tmp_path / "run"), lines.append)
    observation = np.zeros((1, 4), np.float32)
    for t in range(80):
        trainer.replay.add(observation, [t % 2], [1.0], [False], [False], observation)
    trainer.updates = 7
    trainer._check_q_estimates()  # pylint: disable=protected-access
    assert lines == []  # a fresh network's Q is near 0
    last = pruning.strip(trainer.q_network.stack)[-1]
    last.bias.assign(tf.fill(last.bias.shape, 2_000.0))  # 10 x 1 / (1 - 0.99) = 1,000
    trainer._check_q_estimates()  # pylint: disable=protected-access
    trainer._check_q_estimates()  # pylint: disable=protected-access
    [warning] = lines
    assert warning.startswith("warning: Q estimates reach 2e+03 at update 7, beyond 10 x max|r| "
                              "/ (1 - gamma) = 1e+03; training may be diverging")


def test_an_export_refuses_non_finite_weights_and_outputs(cartpole_specs, tmp_path):
    time_step_spec, action_spec = cartpole_specs
    network = QNetwork(time_step_spec.observation, action_spec, "mlp", 1, (8,))
    network.create_variables()
    observations = np.zeros((4, 4), np.float32)
    export = lambda obs: export_network(network, time_step_spec, action_spec,  # noqa: E731
                                        str(tmp_path / "export"), obs, {}, 0)
    with pytest.raises(ExportCheckError, match="outputs are not finite on 1 of 4"):
        export(np.concatenate([observations[:3], np.full((1, 4), np.inf, np.float32)]))
    kernel = network.stack[0].kernel
    kernel.assign(tf.fill(kernel.shape, np.nan))
    with pytest.raises(ExportCheckError, match=f"{kernel.name} holds non-finite values"):
        export(observations)
    assert os.listdir(tmp_path) == []


def test_a_second_trainer_on_a_run_directory_refuses_naming_the_holder(tmp_path):
    root_dir = tmp_path / "run"
    lock_run_dir(str(root_dir))  # this process owns it now, as a running trainer would
    result = cli.run(f"--root_dir={root_dir}")  # the default run
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip() == (
        f"tfprune-train: error: root_dir {root_dir} is in use by another trainer "
        f"(pid {os.getpid()}); wait for it to end or stop it")
    assert os.listdir(root_dir) == ["lock"]


def test_a_width_that_cannot_fit_in_memory_is_refused_before_anything_is_written(tmp_path):
    result = cli.run(f"--root_dir={tmp_path / 'run'}", "--width=1000000")
    assert result.returncode == 1
    assert result.stderr.strip().startswith(
        "tfprune-train: error: width=1000000 needs about ")
    assert "choose a smaller width" in result.stderr
    assert os.listdir(tmp_path) == []


TRAIN, CONTINUOUS, EXPORT, INSPECT, DATASETS, SWEEP, PLOT, PLAY = (
    "tfprune_rl.train", "tfprune_rl.train_continuous", "tfprune_rl.export_cli",
    "tfprune_rl.inspect_cli", "tfprune_rl.datasets_cli", "tfprune_rl.sweep_cli",
    "tfprune_rl.plot_cli", "tfprune_rl.play_cli")
PROGRAMS = {TRAIN: "tfprune-train", CONTINUOUS: "tfprune-train-continuous",
            EXPORT: "tfprune-export", INSPECT: "tfprune-inspect", DATASETS: "tfprune-datasets",
            SWEEP: "tfprune-sweep", PLOT: "tfprune-plot", PLAY: "tfprune-play"}
BAD_COMMANDS = [  # (entry point, arguments, what the line must name); OUT is a fresh directory
    (TRAIN, ["--env=Nope-v9"], "Nope-v9"),
    (TRAIN, ["--sparsity=1.0"], "sparsity=1.0"),
    (TRAIN, ["--sparsity=-0.5"], "sparsity=-0.5"),
    (TRAIN, ["--width=0"], "width=0"),
    (TRAIN, ["--width=abc"], "abc"),
    (TRAIN, ["--width=1000000"], "width=1000000"),
    (TRAIN, ["--agent=ppo"], "ppo"),
    (TRAIN, ["--encoder=resnet"], "resnet"),
    (TRAIN, ["--encoder=nature"], "nature"),  # an image encoder on CartPole's vector
    (TRAIN, ["--replay_scheme=greedy"], "greedy"),
    (TRAIN, ["--num_envs=0"], "num_envs=0"),
    (TRAIN, ["--num_envs=3"], "num_envs=3"),
    (TRAIN, ["--n_step=0"], "n_step=0"),
    (TRAIN, ["--batch_size=0"], "batch_size=0"),
    (TRAIN, ["--replay_capacity=10", "--batch_size=64"], "replay_capacity=10"),
    (TRAIN, ["--learning_rate=0"], "learning_rate=0"),
    (TRAIN, ["--learning_rate=-1"], "learning_rate=-1"),
    (TRAIN, ["--adam_epsilon=0"], "adam_epsilon=0"),
    (TRAIN, ["--gamma=1.0"], "gamma=1.0"),
    (TRAIN, ["--gamma=-0.1"], "gamma=-0.1"),
    (TRAIN, ["--epsilon_final=2"], "epsilon_final=2"),
    (TRAIN, ["--eval_episodes=0"], "eval_episodes=0"),
    (TRAIN, ["--checkpoint_interval=0"], "checkpoint_interval=0"),
    (TRAIN, ["--pruning_frequency=0"], "frequency=0"),
    (TRAIN, ["--pruning_start=0.9", "--pruning_end=0.1"], "0.9"),
    (TRAIN, ["--hidden_units=0"], "hidden_units=[0]"),
    (TRAIN, ["--sparsity_distribution=triangle"], "triangle"),
    (TRAIN, ["--mode=offline"], "--dataset"),
    (TRAIN, ["--mode=offline", "--dataset=/nonexistent/data"], "/nonexistent/data"),
    (TRAIN, ["--dataset=data"], "dataset=data"),
    (TRAIN, ["--num_env_steps=100", "--learning_starts=1000"], "num_env_steps=100"),
    (TRAIN, ["--v_max=0"], "v_max=0"),
    (TRAIN, ["--summary_image_interval=0"], "summary_image_interval=0"),
    (TRAIN, ["--no_such_flag=1"], "no_such_flag"),
    (TRAIN, ["--flagfile=/nonexistent.flags"], "/nonexistent.flags"),
    (TRAIN, ["extra"], "extra"),
    (CONTINUOUS, ["--dataset="], "--dataset"),
    (CONTINUOUS, ["--dataset=/nonexistent.npz"], "/nonexistent.npz"),
    (CONTINUOUS, ["--dataset=d.npz", "--agent=ppo"], "ppo"),
    (CONTINUOUS, ["--dataset=d.npz", "--sparsity=1"], "sparsity=1"),
    (CONTINUOUS, ["--dataset=d.npz", "--num_updates=0"], "num_updates=0"),
    (EXPORT, [], "--run_dir"),
    (EXPORT, ["--run_dir=/nonexistent/run"], "/nonexistent/run"),
    (EXPORT, ["--run_dir=OUT", "--format=onnx"], "onnx"),
    (EXPORT, ["--run_dir=OUT", "--quantize=int4"], "int4"),
    (EXPORT, ["--run_dir=OUT", "--serving_batch_size=0"], "serving_batch_size=0"),
    (INSPECT, [], "PATH"),
    (INSPECT, ["/nonexistent/model"], "/nonexistent/model"),
    (INSPECT, ["DAMAGED"], "DecodeError"),
    (DATASETS, ["--output_dir=OUT", "--train_steps=0"], "train_steps=0"),
    (DATASETS, ["--output_dir=OUT", "--env=Nope-v9"], "Nope-v9"),
    (SWEEP, ["--root_dir=OUT", "--games=CartPole-v1", "--grid=width"], "width"),
    (SWEEP, ["--root_dir=OUT", "--games=", "--grid=width=1"], "games"),
    (PLOT, ["--root_dir=/nonexistent/sweep"], "/nonexistent/sweep"),
    (PLAY, [], "EXPORT"),
    (PLAY, ["/nonexistent/export"], "/nonexistent/export"),
    (PLAY, ["/tmp", "--env=Nope-v9"], "Nope-v9"),
    (PLAY, ["/tmp", "--video=out.avi"], "out.avi"),
    (PLAY, ["/tmp", "--episodes=0"], "episodes"),
    (PLAY, ["DAMAGED"], "Wire format was corrupt"),
]


@pytest.mark.slow
def test_bad_commands_are_one_line_exit_1_and_write_nothing(tmp_path):
    """Every entry point, bad flag values and combinations: exit 1, one line on stderr that
    starts with the program's name and names the bad value, no traceback, nothing written."""
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "saved_model.pb").write_bytes(b"\x0a\xff\xff\xff\x0f truncated")
    pending, failures = list(enumerate(BAD_COMMANDS)), []
    while pending:  # two at a time, on 2 cores
        batch, pending = pending[:2], pending[2:]
        started = []
        for index, (module, args, _) in batch:
            out = tmp_path / f"out{index}"
            args = [arg.replace("OUT", str(out)).replace("DAMAGED", str(damaged))
                    for arg in args]
            if module in (TRAIN, CONTINUOUS):
                args = [f"--root_dir={out}", *args]
            started.append((index, out, cli.start(*args, module=module)))
        for index, out, process in started:
            module, args, named = BAD_COMMANDS[index]
            result = cli.wait(process)
            lines = result.stderr.strip().splitlines()
            ok = (result.returncode == 1 and len(lines) == 1 and result.stdout == ""
                  and lines[0].startswith(f"{PROGRAMS[module]}: error: ") and named in lines[0]
                  and not out.exists())
            if not ok:
                failures.append(f"{module} {args}: rc {result.returncode}, stdout "
                                f"{result.stdout[-300:]!r}, stderr {result.stderr[-600:]!r}")
    assert failures == [], "\n".join(failures)


def test_a_write_the_os_refuses_is_one_line_naming_the_file_and_leaves_no_part(tmp_path):
    """A file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored: writes fail with EFBIG) stands in for
    a full disk: the first replay file cannot be written."""
    root_dir = tmp_path / "run"

    def limit_file_size():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))

    result = subprocess.run(
        [sys.executable, "-m", "tfprune_rl.train", f"--root_dir={root_dir}",
         "--num_env_steps=2000", "--checkpoint_interval=500", "--learning_starts=200",
         "--pruning_frequency=100"],
        cwd=REPO_ROOT, capture_output=True, text=True, preexec_fn=limit_file_size)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line == (f"tfprune-train: error: [Errno 27] File too large: "
                    f"'{root_dir / 'checkpoints' / 'replay-500.npz'}'")
    assert not list(root_dir.rglob("*.tmp-*")) and not (root_dir / "export").exists()
