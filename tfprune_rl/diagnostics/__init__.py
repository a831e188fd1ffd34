"""Plasticity diagnostics: effective rank, dormant neurons, Q-value statistics, norms."""

from tfprune_rl.diagnostics.dormant import DORMANT_TAUS, dormant_neurons, neuron_scores
from tfprune_rl.diagnostics.measure import PREFIX, measure
from tfprune_rl.diagnostics.rank import srank

__all__ = ["DORMANT_TAUS", "PREFIX", "dormant_neurons", "measure", "neuron_scores", "srank"]
