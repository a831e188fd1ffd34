"""Everything that defines a training run, validated before anything is written."""

import dataclasses

from tfprune_rl.agents import AGENTS, DqnHyperparams
from tfprune_rl.envs import game_name
from tfprune_rl.networks import ENCODERS
from tfprune_rl.pruning import PolynomialSchedule, PruningConfig, check_pruning
from tfprune_rl.replay import REPLAY_SCHEMES
from tfprune_rl.training.augmentation import AUGMENTATIONS

MODES = ("online", "offline")


class RunLength:
    """The length of a run on its own clock, for a config with `mode`, `num_updates`,
    `num_env_steps`, `learning_starts` and `update_period` (both trainers' configs)."""

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


@dataclasses.dataclass(frozen=True)
class TrainConfig(RunLength):
    """Online runs count `num_env_steps` and their intervals in env steps; offline runs (on the
    fixed `dataset`) count `num_updates` and their intervals in gradient updates."""
    root_dir: str
    mode: str = "online"
    dataset: str = ""
    dataset_fraction: float = 1.0
    num_updates: int = 50_000
    record_dataset: bool = False
    env_id: str = "CartPole-v1"
    sticky_actions: bool = True
    num_envs: int = 1
    agent: str = "double_dqn"
    seed: int = 0
    encoder: str = "mlp"
    hidden_units: tuple[int, ...] = (64, 64)
    width: int = 4
    sparsity: float = 0.95
    pruning: str = "gmp"
    distribution: str = "erk"
    schedule: PolynomialSchedule = PolynomialSchedule()
    drop_fraction: float = 0.3
    regrow_end: float = 0.75
    saliency_batches: int = 1
    mask_from: str = ""
    hparams: DqnHyperparams = DqnHyperparams(
        learning_rate=1e-3, adam_epsilon=1e-8, gamma=0.99, target_update_period=256
    )
    n_step: int = 3
    replay_scheme: str = "uniform"
    clip_rewards: bool = True
    num_env_steps: int = 50_000
    learning_starts: int = 1_000
    update_period: int = 1
    batch_size: int = 64
    replay_capacity: int = 50_000
    epsilon_decay_steps: int = 8_000
    epsilon_final: float = 0.04
    eval_epsilon: float = 0.001
    eval_episodes: int = 10
    eval_interval: int = 10_000
    checkpoint_interval: int = 5_000
    log_interval: int = 2_000
    diagnostics_period: int = 1_000
    diagnostics_batch_size: int = 256
    l2_normalize: bool = False
    redo_tau: float = 0.1
    redo_period: int = 0
    reset_period: int = 0
    augmentation: str = "none"
    summary_image_interval: int = 20_000
    capture_video: bool = False

    def __post_init__(self):
        choices = {"mode": (self.mode, MODES), "agent": (self.agent, AGENTS),
                   "encoder": (self.encoder, ENCODERS),
                   "augmentation": (self.augmentation, AUGMENTATIONS),
                   "replay scheme": (self.replay_scheme, REPLAY_SCHEMES)}
        for what, (value, allowed) in choices.items():
            if value not in allowed:
                raise ValueError(f"unknown {what} {value!r}; choose one of {', '.join(allowed)}")
        if self.width < 1:
            raise ValueError(f"width={self.width} must be an integer >= 1")
        if not self.hidden_units or min(self.hidden_units) < 1:
            raise ValueError(f"hidden_units={list(self.hidden_units)} must be positive sizes")
        self._check_mode()
        for name in ("num_envs", "num_updates", "n_step", "update_period", "batch_size",
                     "replay_capacity", "eval_episodes", "eval_interval", "checkpoint_interval", "log_interval",
                     "diagnostics_period", "diagnostics_batch_size", "summary_image_interval"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be >= 1")
        for name in ("redo_period", "reset_period"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}={getattr(self, name)} must be >= 0 (0 turns it off)")
        h = self.hparams
        if not (h.learning_rate > 0 and h.adam_epsilon > 0):
            raise ValueError(f"learning_rate={h.learning_rate} and adam_epsilon={h.adam_epsilon} "
                             "must both be > 0 (Adam divides by epsilon)")
        if not 0.0 <= h.gamma < 1.0:
            raise ValueError(f"gamma={h.gamma} must be in [0, 1)")
        if not self.offline and self.replay_capacity < self.batch_size:
            raise ValueError(f"replay_capacity={self.replay_capacity} cannot hold one batch of "
                             f"batch_size={self.batch_size}; it must be at least that")
        if self.redo_tau < 0:
            raise ValueError(f"redo_tau={self.redo_tau} must be >= 0")
        if self.num_env_steps % self.num_envs:
            raise ValueError(
                f"num_env_steps={self.num_env_steps} must be a multiple of num_envs={self.num_envs}"
            )
        if not 0.0 <= self.epsilon_final <= 1.0 or not 0.0 <= self.eval_epsilon <= 1.0:
            raise ValueError(
                f"epsilon_final={self.epsilon_final} and eval_epsilon={self.eval_epsilon} "
                "must be in [0, 1]"
            )
        if not self.offline and self.total_updates < 1:
            raise ValueError(
                f"num_env_steps={self.num_env_steps} leaves no gradient update after "
                f"learning_starts={self.learning_starts}"
            )
        check_pruning(pruning_config(self), self.mask_from)

    def _check_mode(self):
        if self.offline:
            if not self.dataset:
                raise ValueError("--mode=offline needs --dataset=PATH (a recorded dataset or "
                                 "a DQN Replay directory)")
            for name, value, allowed in (("record_dataset", self.record_dataset, False),
                                         ("replay_scheme", self.replay_scheme, "uniform")):
                if value != allowed:
                    raise ValueError(f"{name}={value} is for online runs; offline runs need "
                                     f"{name}={allowed}")
        elif self.dataset:
            raise ValueError(f"dataset={self.dataset} is read by --mode=offline only; this "
                             "run is online")
        if not 0.0 < self.dataset_fraction <= 1.0:
            raise ValueError(f"dataset_fraction={self.dataset_fraction} must be in (0, 1]")

    @property
    def dataset_path(self) -> str:
        """`dataset` with "{game}" replaced by the env's game (Pong for ALE/Pong-v5), so one
        flag names a dataset per game in a sweep."""
        return self.dataset.replace("{game}", game_name(self.env_id))



def updates_between(first_step: int, last_step: int, update_period: int) -> int:
    """Gradient updates due at env steps t in (first_step, last_step]."""
    return last_step // update_period - first_step // update_period


def pruning_config(config) -> PruningConfig:
    """The pruning a run config describes (value-based or continuous: the same field names)."""
    return PruningConfig(
        config.sparsity, config.total_updates, config.distribution, config.schedule,
        config.pruning, config.drop_fraction, config.regrow_end, config.saliency_batches,
        config.seed)
