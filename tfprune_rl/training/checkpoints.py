"""Checkpoints that let a killed run resume where it stopped.

A TF checkpoint (agent, networks with masks and pruning steps, optimizer, counters) and the
replay buffer (online runs; offline runs read their dataset again) are saved under the same
step. The replay file is written first and TensorFlow updates its `checkpoint` index last, so a
crash mid-save leaves the previous pair.
"""

import glob
import os

import tensorflow as tf

from tfprune_rl.replay import ReplayBuffer


class RunCheckpoints:
    def __init__(self, directory: str, replay: ReplayBuffer | None, max_to_keep: int = 2,
                 **trackables):
        self._directory = directory
        self._replay = replay
        self._checkpoint = tf.train.Checkpoint(**trackables)
        self._manager = tf.train.CheckpointManager(
            self._checkpoint, directory, max_to_keep=max_to_keep
        )

    def _replay_path(self, step: int) -> str:
        return os.path.join(self._directory, f"replay-{step}.npz")

    def save(self, step: int) -> None:
        os.makedirs(self._directory, exist_ok=True)
        if self._replay is not None:
            self._replay.save(self._replay_path(step))
        self._manager.save(checkpoint_number=step)
        kept = {self._replay_path(_step_of(path)) for path in self._manager.checkpoints}
        for path in glob.glob(os.path.join(self._directory, "replay-*.npz")):
            if path not in kept:
                os.remove(path)

    def latest_step(self) -> int:
        """The step of the latest checkpoint, or 0 if there is none."""
        latest = self._manager.latest_checkpoint
        return 0 if latest is None else _step_of(latest)

    def restore(self, step: int) -> None:
        """Restores the checkpoint at `step` (nothing at 0: a new run starts as built)."""
        if not step:
            return
        self._checkpoint.restore(checkpoint_path(self._directory, step)
                                 ).assert_existing_objects_matched()
        if self._replay is not None:
            self._replay.load(self._replay_path(step))


def checkpoint_steps(directory: str) -> list[int]:
    """Env steps of the checkpoints listed in `directory`'s index, oldest first."""
    state = tf.train.get_checkpoint_state(directory)
    return sorted(_step_of(path) for path in state.all_model_checkpoint_paths) if state else []


def checkpoint_path(directory: str, step: int) -> str:
    return os.path.join(directory, f"ckpt-{step}")


def _step_of(checkpoint_path: str) -> int:
    return int(checkpoint_path.rsplit("-", 1)[1])
