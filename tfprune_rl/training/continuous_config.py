"""What an offline continuous-control run is: agent, dataset, pruning, budget."""

import dataclasses
from typing import Sequence

from tfprune_rl.agents.continuous import CONTINUOUS_AGENTS
from tfprune_rl.pruning import PolynomialSchedule, check_pruning
from tfprune_rl.training.config import pruning_config


@dataclasses.dataclass(frozen=True)
class ContinuousConfig:
    """Defaults: TD3+BC's (Fujimoto & Gu 2021: 1M updates, batch 256, 256-256 MLPs, evaluation
    every 5,000 updates over 10 episodes) and the single-shot paper's 95% SNIP.

    `pruning` is any registered method (`pruning.METHODS`), each network pruned on its own:
    single-shot `snip`/`grasp` score on `saliency_batches` batches of the dataset, `gmp` follows
    the value-based runs' schedule. Sparsity 0 is the dense baseline.
    """

    root_dir: str
    dataset: str
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
    batch_size: int = 256
    hidden_units: Sequence[int] = (256, 256)
    width: int = 1
    eval_interval: int = 5_000
    eval_episodes: int = 10
    log_interval: int = 1_000
    checkpoint_interval: int = 50_000
    reference_returns: tuple[float, float] | None = None
    seed: int = 0

    def __post_init__(self):
        if self.agent not in CONTINUOUS_AGENTS:
            raise ValueError(f"unknown agent {self.agent!r}; choose one of {', '.join(CONTINUOUS_AGENTS)}")
        for name in ("num_updates", "batch_size", "width", "eval_interval",
                     "eval_episodes", "log_interval", "checkpoint_interval"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be >= 1")
        if not self.hidden_units or min(self.hidden_units) < 1:
            raise ValueError(f"hidden_units={list(self.hidden_units)} must be positive sizes")
        if self.reference_returns is not None and len(set(self.reference_returns)) != 2:
            raise ValueError(f"reference_returns={list(self.reference_returns)} must be two "
                             "different returns: random, expert")
        check_pruning(pruning_config(self), self.mask_from)

    @property
    def total_updates(self) -> int:
        return self.num_updates
