"""What a continuous-control run is: agent, dataset or env collection, pruning, budget."""

import dataclasses
from typing import Sequence

from tfprune_rl.agents.registry import CONTINUOUS_AGENTS, ONLINE_AGENTS
from tfprune_rl.pruning import PolynomialSchedule, check_pruning
from tfprune_rl.training.config import MODES, RunLength, pruning_config


@dataclasses.dataclass(frozen=True)
class ContinuousConfig(RunLength):
    """Defaults: TD3+BC's (Fujimoto & Gu 2021: 1M updates, batch 256, 256-256 MLPs, evaluation
    every 5,000 updates over 10 episodes) and the single-shot paper's 95% SNIP.

    `pruning` is any registered method (`pruning.METHODS`), each network pruned on its own:
    single-shot `snip`/`grasp` score on `saliency_batches` batches of the dataset, `gmp` follows
    the value-based runs' schedule. Sparsity 0 is the dense baseline.

    `mode="online"` trains SAC or TD3 by collecting in the env: `num_env_steps` steps, random
    actions for the first `learning_starts`, then an update every `update_period` steps from a
    replay of `replay_capacity`; intervals count env steps. Defaults: SAC's (Haarnoja et al.
    2018: 1M replay, 256-256, batch 256, one update per step) with Dopamine's 10k random steps.
    """

    root_dir: str
    dataset: str = ""
    mode: str = "offline"
    env_id: str = "HalfCheetah-v5"
    agent: str = "td3_bc"
    sparsity: float = 0.95
    pruning: str = "snip"
    distribution: str = "uniform"
    schedule: PolynomialSchedule = PolynomialSchedule()
    drop_fraction: float = 0.3
    regrow_end: float = 0.75
    saliency_batches: int = 1
    mask_from: str = ""
    num_updates: int = 1_000_000
    num_env_steps: int = 1_000_000
    learning_starts: int = 10_000
    update_period: int = 1
    replay_capacity: int = 1_000_000
    batch_size: int = 256
    hidden_units: Sequence[int] = (256, 256)
    width: int = 1
    eval_interval: int = 5_000
    eval_episodes: int = 10
    log_interval: int = 1_000
    checkpoint_interval: int = 50_000
    reference_returns: tuple[float, float] | None = None
    seed: int = 0
    summary_image_interval: int = 20_000
    capture_video: bool = False

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}; choose one of {', '.join(MODES)}")
        if self.agent not in CONTINUOUS_AGENTS:
            raise ValueError(f"unknown agent {self.agent!r}; choose one of {', '.join(CONTINUOUS_AGENTS)}")
        if self.online and self.agent not in ONLINE_AGENTS:
            raise ValueError(f"agent {self.agent} learns from a dataset; --mode=online trains "
                             f"{' or '.join(ONLINE_AGENTS)}")
        if self.online and self.dataset:
            raise ValueError(f"dataset={self.dataset} is read by --mode=offline only; this run "
                             "is online")
        for name in ("num_updates", "num_env_steps", "update_period", "batch_size", "width",
                     "eval_interval", "eval_episodes", "log_interval", "checkpoint_interval",
                     "summary_image_interval"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be >= 1")
        if not self.hidden_units or min(self.hidden_units) < 1:
            raise ValueError(f"hidden_units={list(self.hidden_units)} must be positive sizes")
        if self.reference_returns is not None and len(set(self.reference_returns)) != 2:
            raise ValueError(f"reference_returns={list(self.reference_returns)} must be two "
                             "different returns: random, expert")
        if self.online and self.replay_capacity < self.batch_size:
            raise ValueError(f"replay_capacity={self.replay_capacity} cannot hold one batch of "
                             f"batch_size={self.batch_size}; it must be at least that")
        if self.online and self.total_updates < 1:
            raise ValueError(f"num_env_steps={self.num_env_steps} leaves no gradient update after "
                             f"learning_starts={self.learning_starts}")
        check_pruning(pruning_config(self), self.mask_from)


@dataclasses.dataclass(frozen=True)
class GenerationConfig:
    """What `tfprune-datasets` makes: SAC trained online, then D4RL's datasets from it."""
    env_id: str
    output_dir: str
    train_steps: int = 1_000_000
    dataset_size: int = 1_000_000
    random_steps: int = 10_000
    batch_size: int = 256
    hidden_units: Sequence[int] = (256, 256)
    log_interval: int = 5_000
    seed: int = 0

    def __post_init__(self):
        if self.train_steps < 2 or self.train_steps <= self.random_steps:
            raise ValueError(f"train_steps={self.train_steps} must exceed random_steps="
                             f"{self.random_steps} (SAC starts learning after them)")
        if self.dataset_size < 1 or self.random_steps < self.batch_size:
            raise ValueError(f"dataset_size={self.dataset_size} must be >= 1 and random_steps="
                             f"{self.random_steps} >= batch_size={self.batch_size}")
