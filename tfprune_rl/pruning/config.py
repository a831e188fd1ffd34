"""Every sparse training method's settings in one place, checked without TensorFlow: both
trainers' configs hold one `PruningConfig`, and its settings are their pruning flags."""

import dataclasses

from tfprune_rl.pruning.api import METHODS
from tfprune_rl.pruning.distribution import DISTRIBUTIONS
from tfprune_rl.pruning.schedule import PolynomialSchedule
from tfprune_rl.settings import at_least, between, one_of, check_settings, setting


@dataclasses.dataclass(frozen=True)
class PruningConfig:
    """A method reads the fields it uses. `total_updates` and `seed` are the run's (its config
    fills them in)."""

    sparsity: float = setting(0.95, "Final fraction of zero kernel weights, in [0, 1); 0 "
                              "trains a dense network. Both papers: 0.95.",
                              between(0.0, 1.0, high_open=True))
    total_updates: int = 0
    distribution: str = setting("erk", f"One of: {', '.join(DISTRIBUTIONS)}: how the sparsity "
                                "is shared among kernels (snip and grasp rank globally "
                                "instead). Default: erk for value-based runs (the paper's "
                                "JaxPruner config), uniform for continuous ones.",
                                one_of(DISTRIBUTIONS, "sparsity distribution"),
                                flag="sparsity_distribution")
    schedule: PolynomialSchedule = PolynomialSchedule()
    method: str = setting("gmp", f"Sparse training method: one of {', '.join(METHODS)} "
                          "(README, Pruning methods). Value-based paper: "
                          "gmp; single-shot paper: snip.", flag="pruning")
    drop_fraction: float = setting(0.3, "set, rigl: fraction of kept weights dropped and "
                                   "regrown at the first mask update, decaying by a cosine. "
                                   "Evci et al. 2020: 0.3.")
    regrow_end: float = setting(0.75, "set, rigl: fraction of gradient updates after which "
                                "masks stop changing. Evci et al. 2020: 0.75.")
    saliency_batches: int = setting(1, "snip, grasp: batches the saliency is averaged over "
                                    "(replay or dataset batches). SNIP: 1.", at_least(1))
    mask_from: str = setting("", "lottery: a finished pruned run of the same network; its final "
                             "masks are trained from its initial weights.")
    seed: int = 0

    def __post_init__(self):
        check_settings(self)
