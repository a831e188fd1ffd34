"""The packed kernel format: products against NumPy, the format's parts, refusal of corrupted
parts, the measured choice of what to pack, and a packed continuous-control actor."""

import dataclasses
import os

import numpy as np
import pytest
import tensorflow as tf
from tf_agents.specs import tensor_spec

from tfprune_rl import export, pruning
from tfprune_rl.export import packed as packing
from tfprune_rl.export.actor_export import export_actor
from tfprune_rl.networks.actor_critic import ActorNetwork


def _sparse_kernel(shape, density, seed):
    rng = np.random.default_rng(seed)
    kernel = rng.normal(size=shape).astype(np.float32)
    return kernel * (rng.random(shape) < density)


def _dense_layer(kernel, bias, activation="relu"):
    layer = tf.keras.layers.Dense(kernel.shape[1], activation=activation)
    layer.build((None, kernel.shape[0]))
    layer.set_weights([kernel, bias])
    return layer


def test_a_small_kernel_packs_as_worked_out_by_hand():
    kernel = np.array([[0, 2, 0],
                       [1, 0, 0],
                       [0, 3, 0],
                       [4, 5, 0]], np.float32)  # units keep 2, 3 and 0 weights
    packed = export.pack(kernel)
    # Sorted by kept count: unit 1 (3), unit 0 (2), unit 2 (0, padded to width 1); three buckets.
    np.testing.assert_array_equal(packed.order, [1, 0, 2])
    np.testing.assert_array_equal(packed.widths, [3, 2, 1])
    np.testing.assert_array_equal(packed.values, [2, 3, 5, 1, 4, 0])
    np.testing.assert_array_equal(packed.indices, [0, 2, 3, 1, 3, 0])
    assert packed.indices.dtype == np.uint16 and packed.dense_shape.tolist() == [4, 3]
    np.testing.assert_array_equal(export.unpack(packed), kernel)
    x = np.array([[1, 10, 100, 1000], [-1, 0, 0, 1]], np.float32)
    layer = export.PackedDense(_dense_layer(kernel, np.array([0.5, -900, 1], np.float32), None))
    expected = [[10 + 4000 + 0.5, 2 + 300 + 5000 - 900, 1], [-0 + 4 + 0.5, -2 + 5 - 900, 1]]
    np.testing.assert_allclose(layer(x).numpy(), expected)


@pytest.mark.parametrize("batch", [1, 7])
def test_packed_products_equal_numpy_on_uneven_rows(batch):
    """Units keep from 0 to all of their inputs, as trained masks can; compiled with XLA."""
    rng = np.random.default_rng(batch)
    kernel = _sparse_kernel((300, 64), 0.05, seed=batch)
    kernel[:, 3] = rng.normal(size=300)  # one unit keeps every weight
    kernel[:, 5] = 0.0  # one keeps none
    bias = rng.normal(size=64).astype(np.float32)
    layer = export.PackedDense(_dense_layer(kernel, bias))
    x = rng.normal(size=(batch, 300)).astype(np.float32)
    served = tf.function(layer, jit_compile=True)(tf.constant(x)).numpy()
    np.testing.assert_allclose(served, np.maximum(x @ kernel + bias, 0), rtol=1e-5, atol=1e-5)
    packed = export.pack(kernel)
    assert len(packing.buckets(packed.widths)) == packing.BUCKETS
    # Buckets keep padding small: the widest unit (300) pads only its own bucket of 16.
    assert packed.values.size < 16 * 300 + 48 * 40


def test_wide_inputs_use_32_bit_indices_and_convolution_kernels_round_trip():
    wide = _sparse_kernel((70_000, 2), 0.001, seed=0)
    assert export.pack(wide).indices.dtype == np.int32
    np.testing.assert_array_equal(export.unpack(export.pack(wide)), wide)
    conv = _sparse_kernel((3, 3, 8, 16), 0.1, seed=1)
    np.testing.assert_array_equal(export.unpack(export.pack(conv)), conv)


@pytest.mark.parametrize("field, value, message", [
    ("indices", lambda p: np.where(p.values != 0, 300, p.indices).astype(np.int32),
     r"an index lies outside \[0, 200\)"),
    ("widths", lambda p: p.widths + 1, r"widths sum to \d+, not the \d+ values"),
    ("order", lambda p: np.zeros_like(p.order), "order is not a permutation of the units"),
    ("values", lambda p: p.values[:-1], r"\d+ values but \d+ indices"),
    ("dense_shape", lambda p: np.array([200, 0]), r"dense_shape \(200, 0\) is not a kernel's shape"),
])
def test_corrupted_parts_are_refused_by_name(field, value, message):
    packed = export.pack(_sparse_kernel((200, 32), 0.1, seed=2))
    broken = dataclasses.replace(packed, **{field: value(packed)})
    with pytest.raises(ValueError, match=f"^packed dense_0/kernel is corrupted: {message}$"):
        export.unpack(broken, "dense_0/kernel")


def test_auto_stores_packed_where_smaller_and_multiplies_packed_where_faster():
    """Margins far beyond timing noise: a 99% sparse 2048 x 2048 layer packed multiplies about
    40k weights against 4M dense; a 40% sparse one is smaller packed but gathers 630k inputs
    one by one against a dense product XLA vectorizes, so it is stored packed and served
    dense (unpacked when the model loads)."""
    layers = [_dense_layer(_sparse_kernel((2048, 2048), 0.01, 3), np.zeros(2048, np.float32)),
              _dense_layer(_sparse_kernel((1024, 1024), 0.6, 4), np.zeros(1024, np.float32)),
              _dense_layer(_sparse_kernel((64, 64), 0.9, 5), np.zeros(64, np.float32))]
    choices, unpacked, products = packing.layer_choices(layers, "auto")
    fast, slow, dense = (choices[layer.name] for layer in layers)
    assert fast["served"] == "packed" and fast["packed_ms"] < fast["dense_ms"]
    assert slow["served"] == "dense" and slow["packed_ms"] > slow["dense_ms"]
    assert fast["packed"] and slow["packed"] and slow["packed_bytes"] < slow["dense_bytes"]
    assert not dense["packed"] and "dense_ms" not in dense  # 10% zeros: bigger packed, not timed
    assert list(unpacked) == list(products) == [layers[0].name, layers[1].name]
    assert isinstance(unpacked[layers[1].name], export.UnpackedDense)
    forced, _, _ = packing.layer_choices(layers, "packed")
    assert [forced[layer.name]["packed"] for layer in layers] == [True, True, False]
    assert [forced[layer.name]["served"] for layer in layers] == ["packed", "packed", "dense"]
    assert packing.layer_choices(layers, "dense") == ({}, {}, {})


@pytest.fixture(scope="module")
def pruned_actor():
    observation_spec = tf.TensorSpec((11,), tf.float32)
    action_spec = tensor_spec.BoundedTensorSpec((3,), tf.float32, -1.0, 1.0)
    updater = pruning.create_updater(  # the schedule ends at update 8
        pruning.PruningConfig(0.95, 10, "erk", pruning.PolynomialSchedule(frequency=1)))
    actor = ActorNetwork(observation_spec, action_spec, width=2, layer_transform=updater.wrap,
                         observation_mean=np.linspace(-1, 1, 11), observation_std=np.full(11, 2.0))
    updater.update(pruning.masked_kernels(actor.stack), 8)
    return actor, action_spec


@pytest.mark.parametrize("mode", ["packed", "dense"])
def test_continuous_actor_exports_packed_or_dense_with_the_live_actions(pruned_actor, mode, tmp_path):
    actor, action_spec = pruned_actor
    observations = np.random.default_rng(0).normal(size=(256, 11)).astype(np.float32)
    report = export_actor(actor, action_spec, str(tmp_path / "export"), observations,
                          {"env_id": "test"}, train_step=10, packing=mode)
    saved_model = str(tmp_path / "export" / "saved_model")
    formats = {t.name: t.format for t in export.stored_tensors(saved_model) if t.is_weight}
    assert report["packing"]["format"] == mode
    assert (formats["hidden_1/kernel"] == "packed") == (mode == "packed")
    served = tf.saved_model.load(saved_model).signatures["serving_default"](
        observation=tf.constant(observations))["action"].numpy()
    np.testing.assert_allclose(served, actor(observations)[0].numpy(), rtol=1e-5, atol=1e-6)
    masks = {k.name: k.mask.numpy() for k in pruning.masked_kernels(actor.stack)}
    kernels = export.saved_kernels(saved_model)
    assert sorted(kernels) == ["hidden_0", "hidden_1", "output"]
    for name, mask in masks.items():
        np.testing.assert_array_equal(kernels[name] == 0, mask == 0)
    assert report["layer_sparsity"]["hidden_1"] > 0.95
    if mode == "dense":
        assert report["packing"]["reason"] == "--packing=dense"


def test_a_network_without_pruned_weights_exports_dense_and_says_why(tmp_path):
    layers = [_dense_layer(np.ones((8, 8), np.float32), np.zeros(8, np.float32))]
    assert packing.layer_choices(layers, "auto") == ({}, {}, {})
    actor_spec = tensor_spec.BoundedTensorSpec((2,), tf.float32, -1.0, 1.0)
    actor = ActorNetwork(tf.TensorSpec((3,), tf.float32), actor_spec)
    report = export_actor(actor, actor_spec, str(tmp_path / "export"),
                          np.zeros((4, 3), np.float32), {}, train_step=0)
    assert report["packing"] == {"packing": "auto", "serving_batch_size": 1, "layers": {},
                                 "format": "dense", "served": "dense",
                                 "reason": "no layer has pruned weights"}
    assert os.path.isdir(tmp_path / "export" / "saved_model")
