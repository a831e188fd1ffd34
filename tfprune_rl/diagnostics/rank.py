"""Effective feature rank, srank (Kumar et al. 2021, "Implicit under-parameterization")."""

import numpy as np

SRANK_DELTA = 0.01


def srank(features: np.ndarray, delta: float = SRANK_DELTA) -> int:
    """min{k : sum_{i<=k} s_i / sum_i s_i >= 1 - delta} over the singular values s of the
    (batch x features) matrix; 0 for a matrix of zeros."""
    singular_values = np.linalg.svd(np.asarray(features, np.float64), compute_uv=False)
    total = singular_values.sum()
    if total == 0:
        return 0
    cumulative = np.cumsum(singular_values) / total
    return int(np.searchsorted(cumulative, 1.0 - delta - 1e-12) + 1)
