"""Running the entry points as a user does: separate processes, checked exit codes."""

import glob
import json
import os
import signal
import subprocess
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def start(*args: str, module: str = "tfprune_rl.train") -> subprocess.Popen:
    """A process of its own (the trainer unless `module` names another entry point); one TF
    thread each, so that two share 2 cores well."""
    env = dict(os.environ, TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", module, *args], cwd=REPO_ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait(process: subprocess.Popen) -> subprocess.CompletedProcess:
    stdout, stderr = process.communicate(timeout=1500)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def run(*args: str, module: str = "tfprune_rl.train") -> subprocess.CompletedProcess:
    return wait(start(*args, module=module))


def finish(process: subprocess.Popen) -> str:
    """Waits for a training process that must succeed; returns what it printed."""
    result = wait(process)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def kill_after_checkpoint(process: subprocess.Popen, root_dir: str, step: int) -> None:
    """SIGKILLs `process` once its checkpoint index names the checkpoint at env step `step`."""
    index = os.path.join(root_dir, "checkpoints", "checkpoint")
    deadline = time.time() + 600
    while not (os.path.exists(index) and f"ckpt-{step}" in open(index).read()):
        assert process.poll() is None and time.time() < deadline, f"no checkpoint at {step}"
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()


def metrics(root_dir) -> dict:
    with open(os.path.join(root_dir, "metrics.json")) as f:
        return json.load(f)


class Stop(Exception):
    """Raised from an in-process run's log: the run stops there, as a killed one would."""


def stop_at(prefix: str):
    """A log function that stops the run at its first line starting with `prefix`."""
    def log(line: str) -> None:
        if line.startswith(prefix):
            raise Stop()
    return log


def scalars(root_dir) -> dict[str, list[tuple[int, float]]]:
    """Every scalar in the run's event files, in the order written, as (step, value) pairs by
    tag (images, histograms and hparams left out)."""
    import tensorflow as tf

    found = {}
    for path in sorted(glob.glob(os.path.join(root_dir, "tensorboard", "events.*"))):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                array = tf.make_ndarray(value.tensor)
                if array.ndim == 0 and array.dtype.kind == "f":
                    found.setdefault(value.tag, []).append((event.step, array.item()))
    return found


def checkpointed(root_dir, prefix: str) -> list:
    """The values, as lists, of the latest checkpoint's variables whose names start with
    `prefix` (for example a generator's state)."""
    import tensorflow as tf

    path = tf.train.latest_checkpoint(os.path.join(root_dir, "checkpoints"))
    return [tf.train.load_variable(path, name).tolist()
            for name, _ in tf.train.list_variables(path) if name.startswith(prefix)]
