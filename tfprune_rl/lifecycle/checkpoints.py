"""Checkpoints that let a killed run resume where it stopped, and a damaged one fall back.

A TF checkpoint (agent, networks with masks and pruning steps, optimizer, counters) and the
replay buffer (online runs; offline runs read their dataset again) are saved under the same
step: `replay-N.npz` first, then `ckpt-N.*`. The files themselves say which checkpoints exist;
the `checkpoint` index is written for TensorFlow's tools and is never trusted on restore. A new
checkpoint is read back in full before an older one is deleted, and a restore that finds the
newest unreadable (truncated, overwritten) falls back to the newest that reads.
"""

import glob
import os
import zipfile

import numpy as np
import tensorflow as tf

from tfprune_rl.replay import ReplayBuffer
from tfprune_rl.lifecycle.run_dir import checkpoint_path, checkpoint_steps

UNREADABLE = (tf.errors.OpError, ValueError, OSError, EOFError, IndexError, KeyError,
              zipfile.BadZipFile)


class CheckpointError(RuntimeError):
    """No checkpoint of a run can be read, or a new one did not read back."""


class RunCheckpoints:
    def __init__(self, directory: str, replay: ReplayBuffer | None, max_to_keep: int = 2,
                 **trackables):
        self._directory = directory
        self._replay = replay
        self._max_to_keep = max_to_keep
        self._checkpoint = tf.train.Checkpoint(**trackables)
        self._checkpoint.save_counter  # pylint: disable=pointless-statement
        # (made now, so that `write` saves it and a restore finds every object it has)

    def _replay_path(self, step: int) -> str:
        return os.path.join(self._directory, f"replay-{step}.npz")

    def save(self, step: int) -> None:
        """Writes the checkpoint at `step`, reads it back, and only then deletes the oldest."""
        os.makedirs(self._directory, exist_ok=True)
        if self._replay is not None:
            self._replay.save(self._replay_path(step))
        self._checkpoint.write(checkpoint_path(self._directory, step))
        try:
            self._read(step)
        except UNREADABLE as error:
            raise CheckpointError(f"checkpoint {checkpoint_path(self._directory, step)} did "
                                  f"not read back after writing: {_reason(error)}") from error
        steps = checkpoint_steps(self._directory)
        kept = steps[-self._max_to_keep:]
        tf.compat.v1.train.update_checkpoint_state(
            self._directory, checkpoint_path(self._directory, step),
            [checkpoint_path(self._directory, s) for s in kept])
        for old in steps[:-self._max_to_keep]:
            for path in glob.glob(checkpoint_path(self._directory, old) + ".*"):
                os.remove(path)
            if os.path.exists(self._replay_path(old)):
                os.remove(self._replay_path(old))

    def steps(self) -> list[int]:
        """Steps of the checkpoints on disk, oldest first (readable or not)."""
        return checkpoint_steps(self._directory)

    def restore_latest(self) -> tuple[int, list[str]]:
        """Restores the newest checkpoint that reads in full; returns its step (0 when there is
        none: a new run starts as built) and a line per newer one skipped, with the reason."""
        skipped = []
        for step in reversed(self.steps()):
            try:
                self._read(step)
                if self._replay is not None:
                    self._replay.load(self._replay_path(step))
                self._checkpoint.restore(checkpoint_path(self._directory, step)
                                         ).assert_existing_objects_matched()
                return step, skipped
            except UNREADABLE as error:
                skipped.append(f"ckpt-{step}: {_reason(error)}")
        if skipped:
            raise CheckpointError(f"no checkpoint in {self._directory} can be read "
                                  f"({'; '.join(skipped)}); nothing was deleted")
        return 0, skipped

    def _read(self, step: int) -> None:
        """Reads every tensor of the TF checkpoint and the replay file's directory; raises one
        of UNREADABLE when either is damaged."""
        reader = tf.train.load_checkpoint(checkpoint_path(self._directory, step))
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
        if self._replay is not None:
            with np.load(self._replay_path(step), allow_pickle=False) as replay:
                replay.files  # pylint: disable=pointless-statement


def _reason(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:200]
