"""Plasticity diagnostics: effective rank, dormant neurons, Q-value statistics, norms."""

from tfprune_rl.diagnostics.dormant import DORMANT_TAUS, dormant_neurons, neuron_scores
from tfprune_rl.diagnostics.measure import PREFIX, measure, parameter_norm
from tfprune_rl.diagnostics.rank import SRANK_DELTA, srank

__all__ = [
    "DORMANT_TAUS", "PREFIX", "SRANK_DELTA", "dormant_neurons", "measure", "neuron_scores",
    "parameter_norm", "srank",
]
