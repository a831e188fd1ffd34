"""What an offline continuous-control run is: agent, dataset, pruning, budget."""

import dataclasses
from typing import Sequence

from tfprune_rl.agents.continuous import CONTINUOUS_AGENTS
from tfprune_rl.pruning.saliency import SALIENCY_METHODS

PRUNING_METHODS = (*SALIENCY_METHODS, "gmp")


@dataclasses.dataclass(frozen=True)
class ContinuousConfig:
    """Defaults: TD3+BC's (Fujimoto & Gu 2021: 1M updates, batch 256, 256-256 MLPs, evaluation
    every 5,000 updates over 10 episodes) and the single-shot paper's 95% SNIP.

    `pruning` is a single-shot method (masks from `saliency_batches` batches of the dataset,
    before training, then fixed) or `gmp` (gradual magnitude pruning over training, with the
    schedule of the value-based runs). Sparsity 0 is the dense baseline.
    """

    root_dir: str
    dataset: str
    env_id: str = "HalfCheetah-v5"
    agent: str = "td3_bc"
    sparsity: float = 0.95
    pruning: str = "snip"
    saliency_batches: int = 1
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
        if self.pruning not in PRUNING_METHODS:
            raise ValueError(f"unknown pruning method {self.pruning!r}; choose one of "
                             f"{', '.join(PRUNING_METHODS)}")
        if not 0.0 <= self.sparsity < 1.0:
            raise ValueError(f"sparsity={self.sparsity} must be in [0, 1)")
        for name in ("saliency_batches", "num_updates", "batch_size", "width", "eval_interval",
                     "eval_episodes", "log_interval", "checkpoint_interval"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be >= 1")
        if not self.hidden_units or min(self.hidden_units) < 1:
            raise ValueError(f"hidden_units={list(self.hidden_units)} must be positive sizes")
        if self.reference_returns is not None and len(set(self.reference_returns)) != 2:
            raise ValueError(f"reference_returns={list(self.reference_returns)} must be two "
                             "different returns: random, expert")
