"""The run directory: one owner at a time, and a flags.txt written once, never mixed with
another run's.

flags.txt starts with `--root_dir`, so that `--flagfile=DIR/flags.txt` re-runs the run; only the
other flags are compared, so a run directory that was moved still resumes.

The owner holds `fcntl.flock` on DIR/lock (which names its PID) for its whole life; the OS
releases it when the process dies, however it dies, so a lock is never stale.
"""

import fcntl
import glob
import os
import re
import shutil

from tfprune_rl.files import atomic_open

LOCK_FILE = "lock"
_held: dict[tuple[int, int], int] = {}  # the directory's (device, inode) -> the descriptor
# holding its lock, in this process (an inode: a directory moved while held is still held)


class RunDirBusy(ValueError):
    """Another live process holds the run directory."""


def lock_run_dir(root_dir: str) -> None:
    """Makes `root_dir` if needed and takes its lock for the rest of this process; raises
    `RunDirBusy` naming the holder's PID if another process has it."""
    os.makedirs(root_dir, exist_ok=True)
    key = _inode(root_dir)
    if key in _held:
        return
    descriptor = os.open(os.path.join(root_dir, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(descriptor, 32).decode(errors="replace").strip() or "unknown"
        os.close(descriptor)
        raise RunDirBusy(f"root_dir {root_dir} is in use by another trainer (pid {holder}); "
                         "wait for it to end or stop it") from None
    os.ftruncate(descriptor, 0)
    os.write(descriptor, f"{os.getpid()}\n".encode())
    _held[key] = descriptor


def run_dir_holder(root_dir: str) -> int | None:
    """The PID of the live process holding `root_dir`, or None (without taking the lock)."""
    path = os.path.join(root_dir, LOCK_FILE)
    if not os.path.exists(path) or _inode(root_dir) in _held:
        return None
    with open(path) as f:
        try:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = f.read().strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(f, fcntl.LOCK_UN)
    return None


def _inode(directory: str) -> tuple[int, int]:
    status = os.stat(directory)
    return status.st_dev, status.st_ino


def remove_leftovers(root_dir: str) -> list[str]:
    """Deletes what killed writers left in a run directory this process holds: TF's
    `ckpt-N_temp/` and our `*.tmp-PID` files and export directories; returns their paths."""
    leftovers = [*glob.glob(os.path.join(root_dir, "checkpoints", "ckpt-*_temp")),
                 *glob.glob(os.path.join(root_dir, "*.tmp-*")),
                 *glob.glob(os.path.join(root_dir, "*", "*.tmp-*"))]
    for path in leftovers:
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.remove(path)
    return leftovers


def read_flagfile(path: str) -> dict[str, str]:
    """`--name=value` lines as {name: value}."""
    with open(path) as f:
        lines = [line.strip() for line in f if line.strip().startswith("--")]
    return dict(line[2:].split("=", 1) for line in lines)


def claim_run_dir(root_dir: str, flags: dict[str, str]) -> None:
    """Creates `root_dir` with flags.txt, or checks that it holds a run with these flags.

    `flags` are the run-defining flags other than the root directory itself. Takes the
    directory's lock (see `lock_run_dir`) once the flags are known to match.
    """
    if check_flags(root_dir, flags):
        lock_run_dir(root_dir)
        return
    if os.path.isdir(root_dir) and set(os.listdir(root_dir)) - {LOCK_FILE}:
        raise ValueError(
            f"root_dir {root_dir} is not empty and holds no run (no flags.txt); "
            "choose a new or empty directory"
        )
    lock_run_dir(root_dir)
    with atomic_open(os.path.join(root_dir, "flags.txt")) as f:
        f.write("".join(f"--{name}={value}\n" for name, value in {"root_dir": root_dir, **flags}.items()))


def check_flags(root_dir: str, flags: dict[str, str]) -> bool:
    """Whether `root_dir` holds a run (flags.txt); raises if its flags differ from `flags`.
    Takes no lock: a sweep checks its trials' directories with it."""
    flags_path = os.path.join(root_dir, "flags.txt")
    if os.path.exists(flags_path):
        saved = read_flagfile(flags_path)
        saved.pop("root_dir", None)
        changed = sorted(name for name in flags.keys() | saved.keys()
                         if flags.get(name) != saved.get(name))
        if changed:
            details = ", ".join(
                f"--{name}={flags.get(name, '(unset)')} (run has {saved.get(name, '(unset)')})"
                for name in changed
            )
            raise ValueError(
                f"root_dir {root_dir} holds a run with different flags: {details}; "
                "pass the same flags to resume it, or choose another --root_dir"
            )
        return True
    return False


def checkpoint_steps(directory: str) -> list[int]:
    """Steps of the checkpoints in `directory` (those with an index file), oldest first."""
    names = (os.path.basename(path) for path in glob.glob(os.path.join(directory, "ckpt-*.index")))
    return sorted(int(match.group(1)) for match in map(re.compile(r"ckpt-(\d+)\.index$").match,
                                                       names) if match)


def checkpoint_path(directory: str, step: int) -> str:
    return os.path.join(directory, f"ckpt-{step}")
