"""Every sparse training method's settings in one place, checked without TensorFlow."""

import dataclasses

from tfprune_rl.pruning.distribution import DISTRIBUTIONS
from tfprune_rl.pruning.schedule import PolynomialSchedule


@dataclasses.dataclass(frozen=True)
class PruningConfig:
    """Every method's settings in one place; a method reads the fields it uses. Defaults are the
    papers' (see each field)."""

    sparsity: float
    total_updates: int
    distribution: str = "erk"  # the paper's (JaxPruner config)
    schedule: PolynomialSchedule = PolynomialSchedule()  # gmp: 20%-80%, power 3, every 1,000
    method: str = "gmp"
    drop_fraction: float = 0.3  # set, rigl: Evci et al. 2020 (Graesser et al. 2022 in RL)
    regrow_end: float = 0.75  # set, rigl: masks stop changing at 75% of training (Evci et al.)
    saliency_batches: int = 1  # snip, grasp: batches the scores are averaged over (SNIP: 1)
    seed: int = 0

    def __post_init__(self):
        if not 0.0 <= self.sparsity < 1.0:
            raise ValueError(f"sparsity={self.sparsity} must be in [0, 1)")
        if self.distribution not in DISTRIBUTIONS:
            raise ValueError(f"unknown sparsity distribution {self.distribution!r}; choose one "
                             f"of {', '.join(DISTRIBUTIONS)}")
        if self.saliency_batches < 1:
            raise ValueError(f"saliency_batches={self.saliency_batches} must be >= 1")
