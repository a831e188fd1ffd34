"""The paper's re-initialization baselines against plasticity loss: ReDo and last-layer reset.

- ReDo (Sokar et al. 2023): every tau-dormant neuron of a hidden layer gets fresh incoming
  weights (the layer's own initializers, freshly seeded) and zero outgoing weights, and Adam's
  moments of all those entries are zeroed. A weight that is both (from a dormant neuron to a
  dormant neuron) ends at zero, so recycling silent neurons (tau 0) leaves the network's
  output unchanged. A feature map counts as one neuron. Layers whose output several layers
  read (Impala's residual stream) are measured but not recycled, as in the ReDo authors'
  ResNet code.
- Reset (Nikishin et al. 2022): the last layer is re-initialized, its Adam moments zeroed.

Only the online network changes; the target network takes the new weights at its next copy.
On a pruned layer the fresh weights are multiplied by the mask: a pruned weight stays zero.
"""

import numpy as np
import tensorflow as tf

from tfprune_rl.diagnostics import dormant_neurons
from tfprune_rl.networks import QNetwork
from tfprune_rl.pruning import MaskedAdam, kernel_mask, strip


def recycle_dormant(q_network: QNetwork, optimizer, observations: np.ndarray, tau: float,
                    rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Recycles the tau-dormant neurons `observations` reveal; returns their indices per layer.
    `rng` seeds the fresh weights."""
    activations = q_network.probe(tf.convert_to_tensor(observations)).activations
    stack, layers = q_network.stack, strip(q_network.stack)
    recycled = {}
    for i, next_index in enumerate(q_network.next_layer):
        dormant = dormant_neurons(activations[layers[i].name].numpy(), tau)
        if next_index is not None and dormant.size:
            recycled[i] = dormant
    for i, dormant in recycled.items():
        layer = layers[i]
        incoming = np.zeros(layer.kernel.shape, bool)
        incoming[..., dormant] = True
        _reinitialize(layer.kernel, incoming, _fresh_kernel(layer, stack[i], rng), optimizer)
        _reinitialize(layer.bias, np.isin(np.arange(layer.bias.shape[0]), dormant),
                      _fresh(layer.bias_initializer, layer.bias.shape, rng), optimizer)
    for i, dormant in recycled.items():  # after every incoming: a weight can be both
        next_kernel = layers[q_network.next_layer[i]].kernel
        _reinitialize(next_kernel, _outgoing(next_kernel.shape, layers[i].bias.shape[0], dormant),
                      np.zeros(next_kernel.shape, np.float32), optimizer)
    return {layers[i].name: dormant for i, dormant in recycled.items()}


def reset_last_layer(q_network: QNetwork, optimizer, rng: np.random.Generator) -> None:
    """`rng` seeds the fresh weights."""
    head_wrapper, head = q_network.stack[-1], strip(q_network.stack)[-1]
    everything = np.ones(head.kernel.shape, bool)
    _reinitialize(head.kernel, everything, _fresh_kernel(head, head_wrapper, rng), optimizer)
    _reinitialize(head.bias, np.ones(head.bias.shape, bool),
                  _fresh(head.bias_initializer, head.bias.shape, rng), optimizer)


def _fresh_kernel(layer, wrapper, rng: np.random.Generator) -> np.ndarray:
    """New kernel values from the layer's initializer, zero where the layer is pruned."""
    fresh = _fresh(layer.kernel_initializer, layer.kernel.shape, rng)
    mask = kernel_mask(wrapper)
    return fresh if mask is None else fresh * mask.numpy()


def _fresh(initializer, shape, rng: np.random.Generator) -> np.ndarray:
    """A draw from a copy of `initializer` with a new seed: Keras 2 initializers return the
    same values on every call of one instance."""
    config = initializer.get_config()
    if "seed" in config:
        config["seed"] = int(rng.integers(2**31 - 1))
    return type(initializer).from_config(config)(shape).numpy()


def _outgoing(next_kernel_shape, units: int, neurons: np.ndarray) -> np.ndarray:
    """Entries of the next kernel that read `neurons` of a layer with `units` outputs: input
    channels of a convolution, or rows of a dense kernel (after a flatten, channel c of a
    convolution is every row r with r % units == c)."""
    selected = np.zeros(next_kernel_shape, bool)
    if len(next_kernel_shape) == 4:
        selected[:, :, neurons, :] = True
    else:
        selected[np.isin(np.arange(next_kernel_shape[0]) % units, neurons), :] = True
    return selected


def _reinitialize(variable: tf.Variable, where: np.ndarray, values: np.ndarray,
                  optimizer: MaskedAdam) -> None:
    """Sets `variable` to `values` where `where` is true and zeroes Adam's moments there."""
    variable.assign(np.where(where, values, variable.numpy()))
    for moment in optimizer.moments(variable):
        moment.assign(np.where(where, 0.0, moment.numpy()))
