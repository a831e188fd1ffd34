"""What both trainers' configs share: the run's length on its own clock, and what a run
shows beyond its scalars."""

import dataclasses

from tfprune_rl.envs.ids import game_name
from tfprune_rl.settings import at_least, setting

MODES = ("online", "offline")


def updates_between(first_step: int, last_step: int, update_period: int) -> int:
    """Gradient updates due at env steps t in (first_step, last_step]."""
    return last_step // update_period - first_step // update_period


@dataclasses.dataclass(frozen=True)
class Intervals:
    """The run's length and the intervals of its periodic work, on the trainer's clock."""
    total: int
    log: int
    eval: int
    checkpoint: int


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """The base of a config with `mode`, `num_updates`, `num_env_steps`, `learning_starts`,
    `update_period`, `dataset`, `env_id`, `seed` and `pruning` (both trainers' configs). Its
    settings change nothing that is learned."""
    summary_image_interval: int = setting(
        20_000, "Env steps (offline: updates) between TensorBoard's histograms of each layer's "
        "kept weights and, when its masks changed, images of each pruned kernel's mask (and "
        "once more at the end), between training steps.", at_least(1))
    capture_video: bool = setting(
        False, "Record the first episode of each evaluation to videos/<clock>_<step>.mp4 and to "
        "TensorBoard's images (a GIF). MuJoCo renders with OpenGL, in a process of its own: "
        "with no display, through OSMesa (MUJOCO_GL=osmesa unless set; apt install "
        "libosmesa6).")

    @property
    def offline(self) -> bool:
        return self.mode == "offline"

    @property
    def online(self) -> bool:
        return self.mode == "online"

    @property
    def total_steps(self) -> int:
        """Env steps online, gradient updates offline."""
        return self.num_updates if self.offline else self.num_env_steps

    @property
    def total_updates(self) -> int:
        """Online, updates happen at env steps t in (learning_starts, num_env_steps] with
        t % period == 0; offline, there are `num_updates`."""
        if self.offline:
            return self.num_updates
        return updates_between(min(self.learning_starts, self.num_env_steps), self.num_env_steps,
                               self.update_period)

    @property
    def intervals(self) -> Intervals:
        return Intervals(self.total_steps, self.log_interval, self.eval_interval,
                         self.checkpoint_interval)

    @property
    def dataset_path(self) -> str:
        """`dataset` with "{game}" replaced by the env's game (Pong for ALE/Pong-v5), so one
        flag names a dataset per game in a sweep."""
        return self.dataset.replace("{game}", game_name(self.env_id))

    def _fill_pruning(self) -> None:
        """`pruning` gets the run's update count and seed, which its schedule and masks use."""
        object.__setattr__(self, "pruning", dataclasses.replace(
            self.pruning, total_updates=self.total_updates, seed=self.seed))
