"""The paper's plasticity measurements (its Fig. 11) on one batch of observations.

The online network is probed with `training=False` and nothing is assigned, so measuring
changes no weight, mask, pruning step or optimizer slot.
"""

import numpy as np
import tensorflow as tf

from tfprune_rl.diagnostics.dormant import DORMANT_TAUS, neuron_scores
from tfprune_rl.diagnostics.rank import srank
from tfprune_rl.networks import QNetwork

PREFIX = "diagnostics/"


def measure(q_network: QNetwork, observations: np.ndarray) -> dict[str, float]:
    """Scalars keyed by their TensorBoard tag:

    - `srank`: of the features the head reads (after any feature normalization);
    - `dormant_tau_<tau>/<layer>` and `/all` (dormant neurons over all hidden layers; the
      output layer is not counted), for tau in 0, 0.025, 0.1;
    - `q_variance`: variance of Q(s, a) over all states and actions of the batch;
    - `q_norm`: mean over states of ||Q(s, .)||_2 (Q as the network's head reads it);
    - `param_norm`: L2 norm of all online-network kernels and biases.
    """
    probe = q_network.probe(tf.convert_to_tensor(observations))
    values = {f"{PREFIX}srank": float(srank(probe.features.numpy()))}
    scores = {name: neuron_scores(activation.numpy())
              for name, activation in probe.activations.items()}
    for tau in DORMANT_TAUS:
        tag = f"{PREFIX}dormant_tau_{tau:g}"
        dormant = {name: int(np.sum(score <= tau)) for name, score in scores.items()}
        for name, score in scores.items():
            values[f"{tag}/{name}"] = dormant[name] / score.size
        values[f"{tag}/all"] = sum(dormant.values()) / sum(s.size for s in scores.values())
    q = q_network.q_values(probe.outputs).numpy().astype(np.float64)
    values[f"{PREFIX}q_variance"] = float(q.var())
    values[f"{PREFIX}q_norm"] = float(np.linalg.norm(q, axis=-1).mean())
    values[f"{PREFIX}param_norm"] = parameter_norm(q_network)
    return values


def parameter_norm(q_network: QNetwork) -> float:
    """Over the trainable variables: kernels and biases, not masks or thresholds."""
    return float(np.sqrt(sum(np.sum(np.square(v.numpy(), dtype=np.float64))
                             for v in q_network.trainable_variables)))
