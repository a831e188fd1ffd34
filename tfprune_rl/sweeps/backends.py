"""Where trials run: processes on this machine, or tasks on a Ray cluster.

Both start the trainer as `python -m <trainer module> ...` with its output in the trial's log
file, so a trial runs exactly as a user's own command would. A backend's `start` returns a
handle; `poll` gives the exit code once the trial has ended (None before); `stop` ends it.
"""

import ctypes
import functools
import os
import signal
import subprocess
import sys
import time

PR_SET_PDEATHSIG = 1  # linux/prctl.h
# Loaded here: a forked child of a threaded process (a Ray worker) must not load libraries.
_LIBC = ctypes.CDLL(None) if sys.platform == "linux" else None


def trainer_env(cpus: int) -> dict[str, str]:
    """TensorFlow sized to the trial's share of the machine."""
    return dict(os.environ, TF_NUM_INTRAOP_THREADS=str(cpus), TF_NUM_INTEROP_THREADS=str(cpus))


def _open_log(log_path: str, module: str, args: list[str]):
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    log = open(log_path, "a")
    log.write(f"== {time.strftime('%Y-%m-%d %H:%M:%S')}: python -m {module} {' '.join(args)}\n")
    log.flush()
    return log


def _die_with(parent: int) -> None:
    """In the child before exec: the kernel SIGKILLs it when its parent dies (Linux's
    parent-death signal), so a killed sweep or Ray worker leaves no trainer behind."""
    _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)  # pylint: disable=protected-access


def _start_trainer(module: str, args: list[str], log_path: str, cpus: int) -> subprocess.Popen:
    die_with_parent = (functools.partial(_die_with, os.getpid()) if sys.platform == "linux"
                       else None)
    with _open_log(log_path, module, args) as log:
        return subprocess.Popen([sys.executable, "-m", module, *args], stdout=log,
                                stderr=subprocess.STDOUT, env=trainer_env(cpus),
                                preexec_fn=die_with_parent)


class LocalBackend:
    def __init__(self, module: str, cpus_per_trial: int):
        self.module = module
        self.cpus_per_trial = cpus_per_trial
        self.capacity = max(1, (os.cpu_count() or 1) // cpus_per_trial)

    def start(self, args: list[str], log_path: str) -> subprocess.Popen:
        return _start_trainer(self.module, args, log_path, self.cpus_per_trial)

    def poll(self, process: subprocess.Popen) -> int | None:
        return process.poll()

    def stop(self, process: subprocess.Popen) -> None:
        process.terminate()
        process.wait()

    def close(self) -> None:
        pass


def run_trainer(module: str, args: list[str], log_path: str, cpus: int) -> int:
    """A Ray task: the trainer on the worker's own Python. Ray cancels a task by raising
    KeyboardInterrupt in it; the trainer is stopped with it rather than left behind."""
    process = _start_trainer(module, args, log_path, cpus)
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.terminate()
        process.wait()
        raise


class RayBackend:
    """Trials as Ray tasks, each holding `cpus_per_trial` CPUs and `gpus_per_trial` GPUs.
    On a cluster, the sweep's root_dir must be on storage every node shares."""

    def __init__(self, module: str, address: str, cpus_per_trial: int, gpus_per_trial: float):
        try:
            import ray
        except ImportError:
            raise ValueError("backend=ray needs Ray: pip install 'tfprune_rl[ray]'") from None
        self._ray = ray
        self.module = module
        # Ray runs workers at niceness 15, and a trainer at 15 next to any other busy process
        # barely runs (measured: 9 s of CPU in 15 minutes beside two trainers at 0). A cluster
        # keeps its own setting; an instance started here runs trials at normal priority.
        own_instance = {} if address else {"_system_config": {"worker_niceness": 0}}
        ray.init(address=address or None, include_dashboard=False, log_to_driver=False,
                 logging_level="ERROR", **own_instance)
        self._run = ray.remote(num_cpus=cpus_per_trial, num_gpus=gpus_per_trial,
                               max_retries=0)(run_trainer)
        self.cpus_per_trial = cpus_per_trial
        self.capacity = max(1, int(ray.cluster_resources().get("CPU", 1) // cpus_per_trial))

    def start(self, args: list[str], log_path: str):
        return self._run.remote(self.module, args, log_path, self.cpus_per_trial)

    def poll(self, ref) -> int | None:
        ready, _ = self._ray.wait([ref], timeout=0)
        if not ready:
            return None
        try:
            return self._ray.get(ready[0])
        except self._ray.exceptions.RayError:  # the task died with its worker or node
            return -1

    def stop(self, ref) -> None:
        self._ray.cancel(ref)
        try:
            self._ray.get(ref, timeout=30)
        except (self._ray.exceptions.RayError, KeyboardInterrupt):
            pass

    def close(self) -> None:
        self._ray.shutdown()
