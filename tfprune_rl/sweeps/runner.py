"""Runs a sweep's trials through a backend, a bounded number at a time.

Idempotent: a trial whose run directory has metrics.json is finished and skipped; one another
process holds waits for it; any other trial is started, and the trainer resumes it from its
latest checkpoint. A failed trial is reported with its log and the others go on.
"""

import dataclasses
import os
import re
import statistics
import time
from typing import Callable

from tfprune_rl.sweeps.grid import Trial
from tfprune_rl.lifecycle.run_dir import run_dir_holder

_PROGRESS = re.compile(r"(?:env steps|updates) ([\d,]+)/([\d,]+)")


@dataclasses.dataclass
class SweepOutcome:
    finished: list[str]
    skipped: list[str]
    failed: dict[str, str]  # run id -> log path


def run_dir(root_dir: str, trial: Trial) -> str:
    return os.path.join(root_dir, trial.run_id)


def log_path(root_dir: str, trial: Trial) -> str:
    return os.path.join(root_dir, "logs", f"{trial.run_id}.log")


def is_finished(root_dir: str, trial: Trial) -> bool:
    return os.path.exists(os.path.join(run_dir(root_dir, trial), "metrics.json"))


def run_sweep(trials: list[Trial], trainer_flagfiles: list[str], root_dir: str, backend,
              parallel: int, progress_interval: float, log: Callable[[str], None] = print,
              poll_interval: float = 1.0) -> SweepOutcome:
    pending = [trial for trial in trials if not is_finished(root_dir, trial)]
    outcome = SweepOutcome([], [t.run_id for t in trials if t not in pending], {})
    log(f"sweep: {len(trials)} trials in {root_dir}, {len(outcome.skipped)} already finished; "
        f"running {min(parallel, len(pending))} at a time")
    running: dict[Trial, tuple[object, float]] = {}
    durations: list[float] = []
    held: set[Trial] = set()
    start = last_progress = time.time()
    try:
        while pending or running:
            for trial in list(pending):  # asks about holders only while a slot is free
                if len(running) >= parallel:
                    break
                if _held(root_dir, trial, held, log):
                    continue
                pending.remove(trial)
                if is_finished(root_dir, trial):  # by the process that held it
                    outcome.skipped.append(trial.run_id)
                    continue
                args = trial.trainer_args(trainer_flagfiles, root_dir)
                running[trial] = (backend.start(args, log_path(root_dir, trial)), time.time())
            for trial, (handle, started) in list(running.items()):
                code = backend.poll(handle)
                if code is None:
                    continue
                del running[trial]
                if code == 0 and is_finished(root_dir, trial):
                    outcome.finished.append(trial.run_id)
                    durations.append(time.time() - started)
                else:
                    outcome.failed[trial.run_id] = log_path(root_dir, trial)
                    log(f"sweep: trial {trial.run_id} failed (exit {code}); "
                        f"log: {log_path(root_dir, trial)}")
            now = time.time()
            if now - last_progress >= progress_interval and (pending or running):
                last_progress = now
                log(_progress_line(outcome, len(running), len(pending), now - start,
                                   _eta(root_dir, running, len(pending), durations, parallel)))
            time.sleep(poll_interval)
    except KeyboardInterrupt:
        for handle, _ in running.values():
            backend.stop(handle)
        raise
    log(_progress_line(outcome, 0, 0, time.time() - start, 0.0))
    return outcome


def _held(root_dir: str, trial: Trial, reported: set, log: Callable[[str], None]) -> bool:
    """Whether another live process (say, the trainer of a sweep that was killed) holds the
    trial's run directory: then it waits, reported once, and never gets a second trainer."""
    holder = run_dir_holder(run_dir(root_dir, trial))
    if holder and trial not in reported:
        reported.add(trial)
        log(f"sweep: trial {trial.run_id} is held by another process (pid {holder}); "
            "waiting for it to end")
    return bool(holder)


def _progress_line(outcome: SweepOutcome, running: int, pending: int, elapsed: float,
                   eta: float | None) -> str:
    done = len(outcome.finished) + len(outcome.skipped)
    total = done + len(outcome.failed) + running + pending
    eta_text = "unknown" if eta is None else _duration(eta)
    return (f"sweep: {done}/{total} done, {running} running, {len(outcome.failed)} failed, "
            f"{pending} pending | elapsed {_duration(elapsed)}, ETA {eta_text}")


def _eta(root_dir: str, running: dict, pending: int, durations: list[float],
         parallel: int) -> float | None:
    """Remaining trials (a running one counts by its share of steps still to go) times a
    trial's duration, over the trials run at a time. The duration is the median of finished
    trials, or, before any finished, of running ones extrapolated from their progress."""
    remaining, estimates = float(pending), list(durations)
    for trial, (_, started) in running.items():
        fraction = _fraction_done(log_path(root_dir, trial))
        remaining += 1.0 - fraction
        if fraction > 0:
            estimates.append((time.time() - started) / fraction)
    if not estimates:
        return None
    return remaining * statistics.median(durations or estimates) / parallel


def _fraction_done(path: str) -> float:
    """From the last progress line the trainer printed ("env steps 20,000/100,000 | ...", or
    "updates ..." offline)."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - 4096))
            tail = f.read().decode(errors="replace")
    except OSError:
        return 0.0
    matches = _PROGRESS.findall(tail)
    if not matches:
        return 0.0
    done, total = (int(text.replace(",", "")) for text in matches[-1])
    return done / total


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"
