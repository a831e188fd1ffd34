"""Encoders at any width: the published layer sizes, and pruning to the target sparsity."""

import numpy as np
import pytest
import tensorflow as tf
from tf_agents.specs import tensor_spec

from tfprune_rl import pruning
from tfprune_rl.networks import CategoricalHead, QNetwork, make_encoder

NUM_ACTIONS = 6


def _conv(size, inputs, outputs):
    return size * size * inputs * outputs + outputs


def _dense(inputs, outputs):
    return inputs * outputs + outputs


def _expected_parameters(encoder, w, atoms=1):
    head_inputs, count = {"mlp": 64, "minatar": 128, "nature": 512, "impala": 512}[encoder] * w, 0
    if encoder == "mlp":  # input 4, hidden (64, 64)
        count = _dense(4, 64 * w) + _dense(64 * w, 64 * w)
    elif encoder == "minatar":  # 10x10x4 input, 3x3 valid conv -> 8x8
        count = _conv(3, 4, 16 * w) + _dense(8 * 8 * 16 * w, 128 * w)
    elif encoder == "nature":  # 84 -> 20 -> 9 -> 7
        count = (_conv(8, 4, 32 * w) + _conv(4, 32 * w, 64 * w) + _conv(3, 64 * w, 64 * w)
                 + _dense(7 * 7 * 64 * w, 512 * w))
    elif encoder == "impala":  # 84 -> 42 -> 21 -> 11 after each stack's pooling
        channels_in = 4
        for channels in (32 * w, 64 * w, 64 * w):
            count += _conv(3, channels_in, channels) + 4 * _conv(3, channels, channels)
            channels_in = channels
        count += _dense(11 * 11 * 64 * w, 512 * w)
    return count + _dense(head_inputs, NUM_ACTIONS * atoms)


def _spec(encoder):
    shape = {"mlp": (4,), "minatar": (10, 10, 4)}.get(encoder, (84, 84, 4))
    high = 1 if encoder == "minatar" else 255
    return tensor_spec.BoundedTensorSpec(shape, tf.uint8, np.zeros(shape, np.uint8),
                                         np.full(shape, high, np.uint8))


ACTIONS = tensor_spec.BoundedTensorSpec((), tf.int64, np.int64(0), np.int64(NUM_ACTIONS - 1))


@pytest.mark.parametrize("encoder", ["mlp", "minatar", "nature", "impala"])
@pytest.mark.parametrize("width", [1, 3])
def test_encoders_have_the_published_sizes_times_width(encoder, width):
    network = QNetwork(_spec(encoder), ACTIONS, encoder, width)
    count = sum(v.shape.num_elements() for v in network.trainable_variables)
    assert count == _expected_parameters(encoder, width)
    q_values, _ = network(tf.zeros((2, *_spec(encoder).shape), tf.uint8))
    assert q_values.shape == (2, NUM_ACTIONS)


def test_categorical_head_has_an_output_per_action_and_atom():
    network = QNetwork(_spec("nature"), ACTIONS, "nature", 1, head=CategoricalHead(51))
    count = sum(v.shape.num_elements() for v in network.trainable_variables)
    assert count == _expected_parameters("nature", 1, atoms=51)


@pytest.mark.parametrize("encoder", ["minatar", "nature", "impala"])
@pytest.mark.parametrize("distribution", ["uniform", "erk"])
def test_every_encoder_prunes_to_the_target_sparsity(encoder, distribution):
    updater = pruning.create_updater(
        pruning.PruningConfig(0.95, 1000, distribution, pruning.PolynomialSchedule(frequency=100)))
    network = QNetwork(_spec(encoder), ACTIONS, encoder, 1, layer_transform=updater.wrap)
    wrappers = pruning.pruning_wrappers(network.stack)
    unwrapped = len(network.stack) - len(wrappers)
    assert unwrapped == 0 if distribution == "uniform" else unwrapped <= 1  # ERK: a dense head
    updater.update(pruning.masked_kernels(network.stack), tf.constant(800, tf.int64))
    stats = pruning.kernel_sparsity(network.stack)
    assert pruning.total_sparsity(stats) == pytest.approx(0.95, abs=1e-3)
    q_values, _ = network(tf.ones((1, *_spec(encoder).shape), tf.uint8))
    assert np.all(np.isfinite(q_values.numpy()))


def test_bad_encoder_settings_are_refused():
    with pytest.raises(ValueError, match="unknown encoder 'resnet'"):
        make_encoder("resnet", 1)
    with pytest.raises(ValueError, match="width=0"):
        make_encoder("nature", 0)


@pytest.mark.parametrize("shape", [(2, 10, 10, 3), (2, 84, 84, 4), (1, 11, 7, 2), (1, 21, 21, 2)])
def test_impala_pooling_is_max_pool_with_a_deterministic_gradient(shape):
    """Impala's 3x3 stride-2 max-pool equals TF's; written without MaxPool, whose gradient XLA
    refuses under op determinism (every run enables it)."""
    from tfprune_rl.networks.encoders import _max_pool_3x3_stride_2

    x = tf.random.normal(shape, seed=1)
    np.testing.assert_array_equal(_max_pool_3x3_stride_2(x).numpy(),
                                  tf.nn.max_pool2d(x, 3, 2, "SAME").numpy())
    ops = tf.function(_max_pool_3x3_stride_2).get_concrete_function(x).graph.get_operations()
    assert not [op.type for op in ops if "MaxPool" in op.type]
