"""One run's lifecycle, the same for every trainer (Dopamine's runner, with the loop body in the
trainer): resume or return, step, log, evaluate and checkpoint at their intervals (and where a
stop signal finds the run), evaluate a last time, export, and write metrics.json.

A trainer says only how a step collects and updates; this module owns everything around it.
Positions count on the trainer's clock: env steps for online runs, gradient updates for
offline ones. Intervals fire when a step crosses one of their multiples.
"""

import json
import os
import signal
import threading
import time
from typing import Callable, Protocol

import numpy as np
import tensorflow as tf

from tfprune_rl import settings, summaries, video
from tfprune_rl.console import device_name
from tfprune_rl.export import SAVED_MODEL
from tfprune_rl.files import atomic_open
from tfprune_rl.replay import ReplayBuffer
from tfprune_rl.lifecycle.checkpoints import CheckpointError, RunCheckpoints
from tfprune_rl.lifecycle.jsonl_log import JsonlLog
from tfprune_rl.lifecycle.run_config import Intervals
from tfprune_rl.lifecycle.run_dir import lock_run_dir, remove_leftovers
from tfprune_rl.lifecycle.timing import PhaseTimer


class Diverged(RuntimeError):
    """Training produced a non-finite loss or weight: the run stops where it first shows."""


class Stopped(RuntimeError):
    """SIGTERM or Ctrl-C stopped the run, after a checkpoint of the step it had reached."""


# What stops a run with one line from its command (no traceback): divergence, no readable
# checkpoint, the OS refusing a file (full disk, permissions, read-only), and a stop signal.
RUN_STOPS = (Diverged, CheckpointError, OSError, tf.errors.PermissionDeniedError,
             tf.errors.ResourceExhaustedError, Stopped)


class StopSignals:
    """While a run trains, SIGTERM (a sweep stopping its trials, a scheduler) or SIGINT
    (Ctrl-C) asks it to checkpoint the step it is at and stop, so a stopped run loses nothing.
    A second SIGINT, a person's second Ctrl-C, stops at once."""

    def __init__(self):
        self.received = None
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():  # where Python runs handlers
            self._previous = {number: signal.signal(number, self._handle)
                              for number in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exception):
        for number, handler in self._previous.items():
            signal.signal(number, handler)

    def _handle(self, number, frame):
        if self.received == signal.SIGINT == number:
            raise KeyboardInterrupt
        self.received = self.received or number


def check_finite(losses: np.ndarray, first_update: int, hint: str) -> None:
    """Raises `Diverged` naming the first update (counted from `first_update`, the number of
    the first loss) whose loss is not finite, and `hint`, the flags that likely caused it."""
    bad = np.flatnonzero(~np.isfinite(losses))
    if bad.size:
        raise Diverged(f"training diverged: loss {losses.flat[bad[0]]} at update "
                       f"{first_update + int(bad[0]):,}; likely cause: {hint}")


class Trainer(Protocol):
    root_dir: str
    clock: str  # "env_step" or "update": the key of evaluations.jsonl rows that orders them
    unit: str  # "env steps" or "updates"
    intervals: Intervals
    config: object  # the run's config dataclass: its fields are the run's hparams
    networks: dict  # the trained networks by name, whose kernels TensorBoard shows
    replay: ReplayBuffer | None  # checkpointed with the run, when the trainer collects
    timer: PhaseTimer

    def describe(self) -> str:
        """The run in a few words: agent, env, network, sparsity and method, length."""

    def checkpointed(self) -> dict:
        """The TF objects a checkpoint holds, by name."""

    def divergence_hint(self) -> str:
        """The flags (with their values) that most likely made training diverge."""

    def start(self, position: int) -> None:
        """After a restore (or at 0): gets ready to step from `position`."""

    def advance(self) -> int:
        """One iteration: collect and update; returns the new position."""

    def settle(self) -> None:
        """Makes the updates due by now that `advance` leaves to its next call, if any: the
        runner settles the trainer before it logs, evaluates, checkpoints or finishes."""

    def before_checkpoint(self, position: int) -> None:
        """Writes what must match the checkpoint about to be saved."""

    def progress(self, seconds: float) -> tuple[str, dict]:
        """The progress line for the `seconds` since the last one, and its figures; writes the
        periodic summaries."""

    def evaluate(self, frames: list | None) -> list[float]:
        """Returns of the evaluation episodes; appends the first one's rgb frames to `frames`
        if given (rendering changes no return)."""

    def counters(self) -> dict:
        """`env_step` and `update` now, for evaluation rows."""

    def score(self, mean_return: float) -> dict:
        """Extra figures of a mean return (the normalized score), for rows and metrics."""

    def export(self, export_dir: str) -> dict:
        """Exports the final network to `export_dir`; returns its report."""

    def metrics(self) -> dict:
        """The trainer's own final figures for metrics.json."""


def run(trainer: Trainer, log: Callable[[str], None] = print) -> dict:
    """Trains `trainer`'s run in its root directory to the end, resuming from the latest
    checkpoint; returns the final metrics (read back if the run is already complete)."""
    root_dir, intervals, unit = trainer.root_dir, trainer.intervals, trainer.unit
    lock_run_dir(root_dir)
    leftovers = remove_leftovers(root_dir)
    wall_time = tf.Variable(0.0, dtype=tf.float64, name="wall_time_s")
    checkpoints = RunCheckpoints(os.path.join(root_dir, "checkpoints"), trainer.replay,
                                 wall_time=wall_time, **trainer.checkpointed())
    metrics_path = os.path.join(root_dir, "metrics.json")
    steps = checkpoints.steps()
    if steps and steps[-1] >= intervals.total and os.path.exists(metrics_path):
        log(f"{trainer.describe()} | {root_dir} | already complete at {steps[-1]:,} {unit} | "
            f"{device_name()}")
        with open(metrics_path) as f:
            return json.load(f)
    position, skipped = checkpoints.restore_latest()
    status = f"resumed from {unit[:-1]} {position:,}" if position else "new run"
    log(f"{trainer.describe()} | {root_dir} | {status} | {device_name()}")
    if leftovers:
        log(f"removed what a killed process left: {', '.join(leftovers)}")
    if skipped:
        log(f"warning: skipped unreadable checkpoint(s) {'; '.join(skipped)}; resumed from "
            f"{unit[:-1]} {position:,}")
    trainer.start(position)

    def kept(step: int, evaluation: bool) -> bool:
        """What a resumed run does not write again: it redoes what follows its checkpoint, and
        the final evaluation, which follows the last checkpoint."""
        return step <= position and not (evaluation and step == intervals.total)

    evaluations = JsonlLog(os.path.join(root_dir, "evaluations.jsonl"))
    evaluations.keep(lambda row: kept(row[trainer.clock], evaluation=True))
    tensorboard_dir = os.path.join(root_dir, "tensorboard")
    summaries.keep_events(tensorboard_dir,
                          lambda event: kept(event.step, summaries.is_evaluation(event)))

    def evaluate() -> list[float]:
        frames = [] if trainer.config.capture_video else None
        with trainer.timer.phase("eval"):
            returns = trainer.evaluate(frames)
            if frames:
                record_video(root_dir, trainer.clock, position, frames)
        mean = float(np.mean(returns))
        score = trainer.score(mean)
        summaries.scalar("return", "eval", mean, position)
        for name, value in score.items():
            summaries.scalar("return", f"eval_{name}", value, position)
        evaluations.append({**trainer.counters(), "return_mean": mean,
                            "returns": [float(r) for r in returns], **score})
        log(f"eval at {unit[:-1]} {position:,}: mean return {mean:.1f}{_text(score)} over "
            f"{len(returns)} episodes")
        return returns

    session_start = last_log = time.time()
    throughput = {}
    writer = tf.summary.create_file_writer(tensorboard_dir)
    kernels = summaries.KernelSummaries(trainer.networks)
    with writer.as_default():
        summaries.write_hparams(hparams(trainer.config))
        with StopSignals() as stop:  # after the last checkpoint, a signal acts as usual
            while position < intervals.total:
                previous, position = position, trainer.advance()
                stopping = stop.received  # read once: a signal in this step waits for the next
                due = {name: _crossed(previous, position, interval) for name, interval in
                       (("log", intervals.log), ("eval", intervals.eval),
                        ("checkpoint", intervals.checkpoint),
                        ("images", trainer.config.summary_image_interval))}
                due["checkpoint"] |= bool(stopping)
                if any(due.values()) or position == intervals.total:
                    trainer.settle()
                if due["log"]:
                    now = time.time()
                    line, throughput = trainer.progress(now - last_log)
                    last_log = now
                    log(line)
                if due["images"] or position == intervals.total:
                    with trainer.timer.phase("summaries"):
                        kernels.write(position)
                if due["eval"] and position < intervals.total:
                    evaluate()
                if due["checkpoint"] or position == intervals.total:
                    wall_time.assign_add(time.time() - session_start)
                    session_start = time.time()
                    with trainer.timer.phase("checkpoint"):
                        _check_weights(trainer.checkpointed(), trainer.divergence_hint())
                        trainer.before_checkpoint(position)
                        checkpoints.save(position)
                    if stopping:
                        raise Stopped(f"stopped by {signal.Signals(stopping).name} at "
                                      f"{unit[:-1]} {position:,}, checkpointed there: run the same "
                                      "command to resume")
        returns = evaluate()

    export_dir = os.path.join(root_dir, "export")
    report = trainer.export(export_dir)
    mean = float(np.mean(returns))
    metrics = {
        **trainer.metrics(),
        "eval_return_mean": mean,
        "eval_returns": [float(r) for r in returns],
        **trainer.score(mean),
        "sparsity": report["saved_model"]["sparsity"],
        "layer_sparsity": report["layer_sparsity"],
        "wall_time_s": float(wall_time.numpy()),
        "last_log_interval": throughput,
    }
    with atomic_open(metrics_path) as f:
        json.dump(metrics, f, indent=2)
    log(f"done: eval return {mean:.1f}{_text(trainer.score(mean))}, sparsity "
        f"{metrics['sparsity']:.4f} (read from {os.path.join(export_dir, SAVED_MODEL)})")
    return metrics


def hparams(config) -> dict[str, bool | int | float | str]:
    """A run config's settings as HParams values, named as their flags (sequences and None as
    text)."""
    return {name: value if isinstance(value, (bool, int, float, str)) else str(value)
            for name, value in settings.recorded_values(config).items()}


def record_video(root_dir: str, clock: str, position: int, frames: list) -> None:
    """An evaluation's first episode: videos/<clock>_<position>.mp4, and TensorBoard."""
    frames = [video.rgb_frame(frame) for frame in frames]
    os.makedirs(os.path.join(root_dir, "videos"), exist_ok=True)
    video.write_mp4(os.path.join(root_dir, "videos", f"{clock}_{position:09d}.mp4"), frames)
    summaries.video_summary("eval_video", frames, position)


def _check_weights(objects: dict, hint: str) -> None:
    """Raises `Diverged` if a trainable weight is not finite: a checkpoint is never written
    from a diverged network, so the last one kept is always finite."""
    for obj in objects.values():
        for variable in getattr(obj, "trainable_variables", ()):
            if not np.all(np.isfinite(variable.numpy())):
                raise Diverged(f"training diverged: weights of {variable.name} are not "
                               f"finite; likely cause: {hint}")


def _text(score: dict) -> str:
    return "".join(f" ({name.replace('_', ' ')} {value:.1f})" for name, value in score.items())


def _crossed(previous: int, position: int, interval: int) -> bool:
    return position // interval > previous // interval
