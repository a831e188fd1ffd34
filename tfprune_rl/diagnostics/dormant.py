"""Dormant neurons (Sokar et al. 2023, "The dormant neuron phenomenon in deep RL").

A neuron (a unit, or a feature map of a convolution) is tau-dormant when its score,
mean |h_i| / mean_j mean |h_j| with means over the batch and spatial positions, is <= tau.
A layer whose activations are all zero has every neuron dormant (every score is 0).
"""

import numpy as np

DORMANT_TAUS = (0.0, 0.025, 0.1)


def neuron_scores(activation: np.ndarray) -> np.ndarray:
    """One score per neuron (last axis) of a (batch, ..., neurons) activation."""
    activation = np.abs(np.asarray(activation, np.float64))
    mean_activity = activation.reshape(-1, activation.shape[-1]).mean(axis=0)
    layer_mean = mean_activity.mean()
    if layer_mean == 0:
        return np.zeros_like(mean_activity)
    return mean_activity / layer_mean


def dormant_neurons(activation: np.ndarray, tau: float) -> np.ndarray:
    """Indices of the tau-dormant neurons."""
    return np.flatnonzero(neuron_scores(activation) <= tau)
