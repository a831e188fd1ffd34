"""The paper's plasticity baselines: weight decay, ReDo and last-layer reset, checked entry by
entry on weights and Adam's moments."""

import numpy as np
import pytest
import tensorflow as tf
from tf_agents.specs import tensor_spec

from tfprune_rl import pruning
from tfprune_rl.agents import (
    DqnHyperparams, make_optimizer, recycle_dormant, reset_last_layer,
)
from tfprune_rl.diagnostics import dormant_neurons
from tfprune_rl.networks import QNetwork
from tfprune_rl.pruning import kernel_mask, strip

ACTIONS = tensor_spec.BoundedTensorSpec((), tf.int64, np.int64(0), np.int64(2))
SPECS = {"mlp": tensor_spec.TensorSpec((5,), tf.float32),
         "minatar": tensor_spec.TensorSpec((10, 10, 4), tf.float32)}


def _hparams(**overrides):
    return DqnHyperparams(**{"learning_rate": 1e-3, "adam_epsilon": 1e-8, "gamma": 0.99,
                             "target_update_period": 5, **overrides})


def _pruned_network(encoder, sparsity=0.8):
    """Width 2, masks already at `sparsity` (uniform), every weight and moment non-zero elsewhere."""
    tf.keras.utils.set_random_seed(0)
    schedule = pruning.PolynomialSchedule(frequency=1)
    config = pruning.PruningConfig(sparsity, 10, "uniform", schedule)
    updater = pruning.create_updater(config)
    network = QNetwork(SPECS[encoder], ACTIONS, encoder, 2, (16, 16), layer_transform=updater.wrap)
    last_mask_update = schedule.window(10)[1]
    updater.update(pruning.masked_kernels(network.stack), tf.constant(last_mask_update))
    for layer in strip(network.stack):
        layer.bias.assign(tf.random.uniform(layer.bias.shape, 0.1, 0.2))
    optimizer = make_optimizer(_hparams())
    gradients = [tf.random.normal(v.shape) for v in network.trainable_variables]
    optimizer.apply_gradients(zip(gradients, network.trainable_variables))
    pruning.apply_masks(pruning.masked_kernels(network.stack))  # as the train step does
    return network, optimizer


def _state(network, optimizer):
    """Every layer's kernel, bias and Adam moments, by name."""
    state = {}
    for layer in strip(network.stack):
        for name, variable in (("kernel", layer.kernel), ("bias", layer.bias)):
            index = optimizer._index_dict[optimizer._var_key(variable)]
            state[layer.name, name] = variable.numpy().copy()
            state[layer.name, name, "m"] = optimizer._momentums[index].numpy().copy()
            state[layer.name, name, "v"] = optimizer._velocities[index].numpy().copy()
    return state


def _masks(network):
    return {layer.name: kernel_mask(wrapper).numpy() for wrapper, layer
            in zip(network.stack, strip(network.stack)) if kernel_mask(wrapper) is not None}


def test_weight_decay_shrinks_weights_by_lr_times_decay_per_step_with_zero_gradients():
    network, _ = _pruned_network("mlp")
    optimizer = make_optimizer(_hparams(learning_rate=0.1, weight_decay=0.5))
    variables = network.trainable_variables
    start = [v.numpy().copy() for v in variables]
    for _ in range(10):
        optimizer.apply_gradients(zip([tf.zeros_like(v) for v in variables], variables))
    for variable, initial in zip(variables, start):
        np.testing.assert_allclose(variable.numpy(), initial * (1 - 0.1 * 0.5) ** 10, rtol=1e-5)
        assert np.all((variable.numpy() == 0) == (initial == 0))  # pruned weights stay zero
    decayed = [v.numpy().copy() for v in variables]
    plain = make_optimizer(_hparams(learning_rate=0.1))  # no decay: zero gradients change nothing
    plain.apply_gradients(zip([tf.zeros_like(v) for v in variables], variables))
    for variable, value in zip(variables, decayed):
        np.testing.assert_array_equal(variable.numpy(), value)


@pytest.mark.parametrize("tau", [0.0, 0.1])
@pytest.mark.parametrize("encoder", ["mlp", "minatar"])
def test_redo_recycles_exactly_the_dormant_neurons_and_never_revives_pruned_weights(encoder, tau):
    network, optimizer = _pruned_network(encoder)
    first, second = strip(network.stack)[:2]
    dead = [1, 4, 6]
    kernel, bias = first.get_weights()
    kernel[..., dead], bias[dead] = 0.0, -1.0  # these neurons output 0 for every input
    first.set_weights([kernel, bias])
    observations = np.abs(np.random.default_rng(0).normal(size=(64, *SPECS[encoder].shape)))
    observations = observations.astype(np.float32)
    activations = network.probe(observations).activations
    expected = {name: dormant_neurons(a.numpy(), tau) for name, a in activations.items()}
    assert set(dead) <= set(expected[first.name])
    masks, before = _masks(network), _state(network, optimizer)
    assert all(np.mean(mask == 0) == pytest.approx(0.8, abs=0.01) for mask in masks.values())
    outputs = network(observations)[0].numpy()

    recycled = recycle_dormant(network, optimizer, observations, tau, np.random.default_rng(1))
    after = _state(network, optimizer)
    if tau == 0:  # only silent neurons were recycled, and their outgoing weights are zero
        np.testing.assert_allclose(network(observations)[0].numpy(), outputs, rtol=1e-6)
    outgoing_of = {}  # kernel entries that are some recycled neuron's outgoing weights

    assert recycled.keys() == {n for n, d in expected.items() if d.size}
    for layer_index, (name, neurons) in enumerate(recycled.items()):
        np.testing.assert_array_equal(neurons, expected[name])
        next_layer = strip(network.stack)[network.next_layer[layer_index]]
        incoming = np.zeros(before[name, "kernel"].shape, bool)
        incoming[..., neurons] = True
        units = before[name, "bias"].shape[0]
        outgoing = np.zeros(before[next_layer.name, "kernel"].shape, bool)
        if encoder == "minatar" and name == first.name:  # conv -> flatten -> dense
            outgoing[np.isin(np.arange(outgoing.shape[0]) % units, neurons)] = True
        else:
            outgoing[neurons] = True
        assert outgoing.sum() == neurons.size * outgoing.size // units
        outgoing_of[next_layer.name] = outgoing
        kept = masks[name] if name in masks else np.ones(incoming.shape)
        zeroed = outgoing_of.get(name, np.zeros_like(incoming))  # by the layer before
        fresh = incoming & (kept == 1) & ~zeroed
        assert fresh.any()
        assert np.all(after[name, "kernel"][fresh] != 0)
        assert np.all(after[name, "kernel"][fresh] != before[name, "kernel"][fresh])
        untouched = ~incoming & ~zeroed
        np.testing.assert_array_equal(after[name, "kernel"][untouched],
                                      before[name, "kernel"][untouched])
        np.testing.assert_array_equal(after[name, "bias"][neurons], 0.0)
        np.testing.assert_array_equal(np.delete(after[name, "bias"], neurons),
                                      np.delete(before[name, "bias"], neurons))
        np.testing.assert_array_equal(after[next_layer.name, "kernel"][outgoing], 0.0)
        for key, where in (((name, "kernel"), incoming), ((next_layer.name, "kernel"), outgoing)):
            for moment in ("m", "v"):
                np.testing.assert_array_equal(after[(*key, moment)][where], 0.0)
                assert np.all(before[(*key, moment)][where] != 0)
    for name, mask in masks.items():
        assert np.all(after[name, "kernel"][mask == 0] == 0), name
    untouched = {n for n in recycled} | {strip(network.stack)[network.next_layer[i]].name
                                          for i, n in enumerate(recycled)}
    head = strip(network.stack)[-1].name
    if head not in untouched:
        np.testing.assert_array_equal(after[head, "kernel"], before[head, "kernel"])


def test_redo_leaves_impala_residual_stream_layers_alone():
    frames = tensor_spec.BoundedTensorSpec((16, 16, 3), tf.uint8, np.zeros((16, 16, 3), np.uint8),
                                           np.full((16, 16, 3), 255, np.uint8))
    network = QNetwork(frames, ACTIONS, "impala", 1)
    layers = strip(network.stack)
    recyclable = [layers[i].name for i, nxt in enumerate(network.next_layer) if nxt is not None]
    assert recyclable == ["stack_0_block_0_conv_0", "stack_0_block_1_conv_0",
                          "stack_1_block_0_conv_0", "stack_1_block_1_conv_0",
                          "stack_2_block_0_conv_0", "stack_2_block_1_conv_0", "dense_0"]
    assert [layers[network.next_layer[layers.index(l)]].name for l in layers
            if l.name == "stack_0_block_0_conv_0"] == ["stack_0_block_0_conv_1"]


@pytest.mark.parametrize("sparsity", [0.0, 0.8])
def test_reset_reinitializes_only_the_last_layer_and_its_moments(sparsity):
    network, optimizer = _pruned_network("mlp", sparsity)
    masks, before = _masks(network), _state(network, optimizer)
    reset_last_layer(network, optimizer, np.random.default_rng(2))
    after = _state(network, optimizer)
    head = strip(network.stack)[-1].name
    for key, value in before.items():
        if key[0] != head:
            np.testing.assert_array_equal(after[key], value, err_msg=str(key))
        elif len(key) == 3:
            np.testing.assert_array_equal(after[key], 0.0, err_msg=str(key))
    kept = masks.get(head, np.ones(before[head, "kernel"].shape))
    assert (head in masks) == (sparsity > 0)
    assert np.mean(kept == 0) == pytest.approx(sparsity, abs=0.01)
    assert np.all(after[head, "kernel"][kept == 1] != before[head, "kernel"][kept == 1])
    np.testing.assert_array_equal(after[head, "kernel"][kept == 0], 0.0)
    np.testing.assert_array_equal(after[head, "bias"], 0.0)
    fan_in, fan_out = before[head, "kernel"].shape
    limit = np.sqrt(6 / (fan_in + fan_out))  # Glorot uniform, the Dense default
    assert np.abs(after[head, "kernel"]).max() <= limit


def test_a_mask_update_after_redo_zeroes_keeps_every_pruned_weight_pruned():
    """ReDo can leave more of a kernel at exactly zero than the schedule prunes; the next mask
    update must still keep exactly its share, chosen among the weights not yet pruned."""
    tf.keras.utils.set_random_seed(0)
    schedule = pruning.PolynomialSchedule(frequency=1)
    config = pruning.PruningConfig(0.8, 10, "uniform", schedule)
    updater = pruning.create_updater(config)
    network = QNetwork(SPECS["mlp"], ACTIONS, "mlp", 2, (16, 16), layer_transform=updater.wrap)
    kernels = pruning.masked_kernels(network.stack)
    updater.update(kernels, tf.constant(4))
    hidden_1 = strip(network.stack)[1]
    pruned_before = kernel_mask(network.stack[1]).numpy() == 0
    kernel = hidden_1.kernel.numpy()
    kernel[:24] = 0.0  # outgoing weights of 24 of hidden_0's 32 neurons: 75% of the kernel
    hidden_1.kernel.assign(kernel)

    updater.update(kernels, tf.constant(5))

    mask = kernel_mask(network.stack[1]).numpy()
    target = float(network.stack[1].pruning_schedule(tf.constant(5, tf.int64))[1])
    assert 0 < np.mean(pruned_before) < target < 0.75
    assert np.sum(mask) == round(mask.size * (1 - target))
    assert np.all(mask[pruned_before] == 0)
    assert np.all(mask[24:][~pruned_before[24:]] == 1)  # every non-zero weight outranks a zero
