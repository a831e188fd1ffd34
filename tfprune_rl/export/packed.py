"""Packed sparse kernels for serving, and the measured choice of which layers to pack.

A packed kernel is ELLPACK in row buckets. Its [inputs, units] matrix is read per output unit.
The units are sorted by kept-weight count and split into `BUCKETS` equal groups. Each group
pads its units' kept weights to its own longest count. The layer stores:
- `packed_values` (float32): the kept weights, unit after unit, zero padded;
- `packed_indices` (uint16 below 65,536 inputs, else int32): their input positions;
- `packed_widths` (int32, per sorted unit): each unit's padded count;
- `packed_order` (int32, per unit): the unit's place in the sorted order;
- `dense_shape` (int64): the kernel's shape.

A packed product gathers the inputs each unit reads, multiplies by the unit's values and sums
them. No scatter is used: XLA's CPU scatter is slower than a dense product. Buckets keep the
padding small when some units keep far more weights than others, as trained masks do.

Every dense or convolution kernel that packing makes smaller is stored packed. How it is
served is measured, not guessed:
- a dense layer multiplies packed where its packed product is faster than the dense one at the
  batch it will serve (`serving_batch_size`), then only if the whole network is faster so too;
- any other packed kernel (every convolution: each packed convolution we measured was slower
  than XLA's dense one at 70-94% sparsity) is unpacked once, when the SavedModel loads, and
  served by the dense product (`_LoadTimeKernel`).
"""

import dataclasses
import time
import uuid
from typing import Callable

import numpy as np
import tensorflow as tf

from tfprune_rl.export.options import PACKINGS
from tfprune_rl.networks.encoders import WindowConv2D
from tfprune_rl.pruning import apply_masks, masked_kernels, strip

BUCKETS = 4
_ROUNDS, _CALLS = 7, 20  # timing: best of alternating rounds, each the mean of some calls


@dataclasses.dataclass(frozen=True)
class PackedKernel:
    values: np.ndarray
    indices: np.ndarray
    widths: np.ndarray
    order: np.ndarray
    dense_shape: np.ndarray

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in dataclasses.astuple(self))


# The layer variable holding each PackedKernel field.
VARIABLE_NAMES = {field.name: field.name if field.name == "dense_shape" else f"packed_{field.name}"
                  for field in dataclasses.fields(PackedKernel)}


def pack(kernel: np.ndarray) -> PackedKernel:
    """`kernel` (its last axis the output units) in the packed format."""
    matrix = kernel.reshape(-1, kernel.shape[-1])
    inputs, units = matrix.shape
    kept = matrix != 0
    rows = np.argsort(-kept.sum(axis=0), kind="stable")  # most kept weights first
    counts = kept.sum(axis=0)[rows]
    widths = np.empty(units, np.int32)
    for group in np.array_split(np.arange(units), min(BUCKETS, units)):
        widths[group] = max(1, counts[group[0]])
    offsets = np.concatenate([[0], np.cumsum(widths)])
    values = np.zeros(offsets[-1], np.float32)
    indices = np.zeros(offsets[-1], np.uint16 if inputs <= 2**16 else np.int32)
    for position, unit in enumerate(rows):
        read = np.flatnonzero(kept[:, unit])
        values[offsets[position]:offsets[position] + len(read)] = matrix[read, unit]
        indices[offsets[position]:offsets[position] + len(read)] = read
    order = np.empty(units, np.int32)
    order[rows] = np.arange(units, dtype=np.int32)
    return PackedKernel(values, indices, widths, order, np.asarray(kernel.shape, np.int64))


def unpack(packed: PackedKernel, name: str = "kernel") -> np.ndarray:
    """The dense kernel; a ValueError naming `name` if the parts do not fit together."""
    values, indices, widths, order = (np.asarray(a) for a in (
        packed.values, packed.indices, packed.widths, packed.order))
    shape = tuple(int(d) for d in np.asarray(packed.dense_shape))

    def corrupted(why: str) -> ValueError:
        return ValueError(f"packed {name} is corrupted: {why}")

    if len(shape) < 2 or min(shape) < 1:
        raise corrupted(f"dense_shape {shape} is not a kernel's shape")
    inputs, units = int(np.prod(shape[:-1])), shape[-1]
    if values.ndim != 1 or values.shape != indices.shape:
        raise corrupted(f"{values.shape[0] if values.ndim else 0} values but "
                        f"{indices.size} indices")
    if widths.shape != (units,) or order.shape != (units,):
        raise corrupted(f"{widths.size} widths and {order.size} order entries for {units} units")
    if np.any(widths < 0) or int(widths.sum()) != values.size:
        raise corrupted(f"widths sum to {int(widths.sum())}, not the {values.size} values")
    if not np.array_equal(np.sort(order), np.arange(units)):
        raise corrupted("order is not a permutation of the units")
    if indices.size and (int(indices.min()) < 0 or int(indices.max()) >= inputs):
        raise corrupted(f"an index lies outside [0, {inputs})")
    unit_of_entry = np.repeat(np.argsort(order), widths)
    kept = values != 0
    matrix = np.zeros((inputs, units), np.float32)
    matrix[indices[kept].astype(np.int64), unit_of_entry[kept]] = values[kept]
    return matrix.reshape(shape)


def buckets(widths: np.ndarray) -> list[tuple[int, int, int]]:
    """(offset into the values, units, width) of each run of equal widths."""
    runs, offset, start = [], 0, 0
    for end in range(1, len(widths) + 1):
        if end == len(widths) or widths[end] != widths[start]:
            count, width = end - start, int(widths[start])
            runs.append((offset, count, width))
            offset, start = offset + count * width, end
    return runs


def _add_packed_weights(layer: tf.keras.layers.Layer, packed: PackedKernel,
                        bias: np.ndarray | None) -> None:
    """Stores `packed` in `layer`'s variables (`VARIABLE_NAMES`), and its bias."""
    for field, name in VARIABLE_NAMES.items():
        value = getattr(packed, field)
        setattr(layer, name, layer.add_weight(
            name=name, shape=value.shape, dtype=tf.as_dtype(value.dtype), trainable=False,
            initializer=tf.constant_initializer(value)))
    if bias is not None:
        layer.bias = layer.add_weight(name="bias", shape=bias.shape, trainable=False,
                                      initializer=tf.constant_initializer(bias))


class PackedDense(tf.keras.layers.Layer):
    """A `Dense` layer whose kernel is stored packed and multiplied packed (see the module)."""

    def __init__(self, dense: tf.keras.layers.Dense):
        super().__init__(name=dense.name)
        self._packed = pack(dense.kernel.numpy())
        self._bias = dense.bias.numpy() if dense.use_bias else None
        self.activation = dense.activation
        self._buckets = buckets(self._packed.widths)

    @property
    def packed_bytes(self) -> int:
        return self._packed.nbytes

    def build(self, input_shape):
        _add_packed_weights(self, self._packed, self._bias)

    def call(self, inputs):
        indices = tf.cast(self.packed_indices, tf.int32)
        parts = []
        for offset, count, width in self._buckets:
            end = offset + count * width
            read = tf.gather(inputs, tf.reshape(indices[offset:end], (count, width)), axis=1)
            parts.append(tf.reduce_sum(read * tf.reshape(self.packed_values[offset:end],
                                                         (count, width)), axis=-1))
        outputs = tf.gather(tf.concat(parts, axis=-1), self.packed_order, axis=1)
        if self._bias is not None:
            outputs = outputs + self.bias
        return self.activation(outputs)


class _LoadTimeKernel(tf.saved_model.experimental.TrackableResource):
    """A dense kernel rebuilt from a layer's packed variables when its SavedModel loads: TF
    creates and initializes a resource at load, as it fills a lookup table. The file stores
    only the kept weights; every call then reads a plain dense kernel. Its name is unique to
    the export (resources of one name are one resource in a process)."""

    def __init__(self, layer: tf.keras.layers.Layer, shape: tuple[int, ...]):
        super().__init__()
        self._layer, self._shape = layer, shape
        self._name = f"{layer.name}_kernel_{uuid.uuid4().hex}"
        self._initialize()

    def _create_resource(self):
        return tf.raw_ops.VarHandleOp(dtype=tf.float32, shape=self._shape,
                                      shared_name=self._name)

    def _initialize(self):
        layer = self._layer
        inputs, units = int(np.prod(self._shape[:-1])), self._shape[-1]
        unit_of_entry = tf.repeat(tf.argsort(layer.packed_order), layer.packed_widths)
        positions = tf.cast(layer.packed_indices, tf.int32) * units + unit_of_entry
        dense = tf.scatter_nd(positions[:, None], layer.packed_values, [inputs * units])
        tf.raw_ops.AssignVariableOp(resource=self.resource_handle,
                                    value=tf.reshape(dense, self._shape))

    def read(self) -> tf.Tensor:
        return tf.ensure_shape(
            tf.raw_ops.ReadVariableOp(resource=self.resource_handle, dtype=tf.float32),
            self._shape)


class _UnpackedAtLoad:
    """A kernel layer stored packed and served dense: its `kernel` is unpacked once, when the
    model loads (`_LoadTimeKernel`). For convolutions, and for dense layers whose packed
    product is slower than the dense one."""

    def __init__(self, layer: tf.keras.layers.Layer):
        super().__init__(**layer.get_config())
        self._packed = pack(layer.kernel.numpy())
        self._bias = layer.bias.numpy() if layer.use_bias else None

    @property
    def packed_bytes(self) -> int:
        return self._packed.nbytes

    def build(self, input_shape):
        _add_packed_weights(self, self._packed, self._bias)
        self.load_time_kernel = _LoadTimeKernel(
            self, tuple(int(d) for d in self._packed.dense_shape))
        self.built = True

    @property
    def kernel(self) -> tf.Tensor:
        return self.load_time_kernel.read()


class UnpackedDense(_UnpackedAtLoad, tf.keras.layers.Dense):
    pass


class UnpackedConv2D(_UnpackedAtLoad, tf.keras.layers.Conv2D):
    pass


class UnpackedWindowConv2D(_UnpackedAtLoad, WindowConv2D):
    pass


UNPACKED = {tf.keras.layers.Dense: UnpackedDense, tf.keras.layers.Conv2D: UnpackedConv2D,
            WindowConv2D: UnpackedWindowConv2D}  # each kernel layer's stored-packed twin


def load_time_kernels(network) -> list[_LoadTimeKernel]:
    """The kernels a serving network rebuilds when it loads (a SavedModel must track them)."""
    return [layer.load_time_kernel for layer in network.stack
            if isinstance(layer, _UnpackedAtLoad)]


def best_seconds(functions: dict[str, Callable], inputs, rounds: int = _ROUNDS,
                 calls: int = _CALLS) -> dict[str, float]:
    """Each function's best mean call time over alternating rounds (after one call to compile)."""
    for function in functions.values():
        function(inputs)
    best = dict.fromkeys(functions, float("inf"))
    for _ in range(rounds):
        for name, function in functions.items():
            start = time.perf_counter()
            for _ in range(calls):
                outputs = function(inputs)
            tf.nest.map_structure(lambda t: t.numpy(), outputs)
            best[name] = min(best[name], (time.perf_counter() - start) / calls)
    return best


SERVING_BATCHES = (1, 32)  # the batches report.json times both served formats at


def layer_choices(layers, packing: str, batch_size: int = 1) -> tuple[dict, dict, dict]:
    """For each dense or convolution layer with pruned weights: its sparsity, dense and packed
    bytes, `packed` (stored packed: wherever that is smaller, unless `packing` is dense) and
    `served` ("packed": the packed product; "dense": a dense kernel, unpacked when the model
    loads). `packed` serves every dense layer stored packed with the packed product, `auto`
    only those whose product is faster at `batch_size` (both times in the choice).
    Convolutions are served dense. Also returns, by name, the layers stored packed as
    `UnpackedDense`/`UnpackedConv2D`, and every packed dense layer's `PackedDense`."""
    if packing not in PACKINGS:
        raise ValueError(f"unsupported packing {packing!r}; choose one of {', '.join(PACKINGS)}")
    choices, unpacked, products = {}, {}, {}
    for layer in layers:
        kind = type(layer)
        if kind not in UNPACKED or packing == "dense":
            continue
        kernel = layer.kernel.numpy()
        zeros = int(np.sum(kernel == 0))
        if not zeros:
            continue
        stored = UNPACKED[kind](layer)
        choice = {"sparsity": zeros / kernel.size, "dense_bytes": kernel.nbytes,
                  "packed_bytes": stored.packed_bytes, "served": "dense"}
        choice["packed"] = choice["packed_bytes"] < choice["dense_bytes"]
        if choice["packed"] and kind is tf.keras.layers.Dense:
            product = products[layer.name] = PackedDense(layer)
            faster = packing == "packed"
            if packing == "auto":
                compiled = {"dense": tf.function(layer, jit_compile=True),
                            "packed": tf.function(product, jit_compile=True)}
                seconds = best_seconds(compiled, tf.random.normal((batch_size, kernel.shape[0])))
                choice.update({f"{name}_ms": 1000 * s for name, s in seconds.items()})
                faster = seconds["packed"] < seconds["dense"]
            if faster:
                choice["served"] = "packed"
        choices[layer.name] = choice
        if choice["packed"]:
            unpacked[layer.name] = stored
    return choices, unpacked, products


def serving_copy(network, replacements: dict[str, tf.keras.layers.Layer] | None = None):
    """A wrapper-free copy of a QNetwork or actor holding its re-masked weights (the optimizer
    moves pruned entries after each forward pass), with `replacements` (made from that copy's
    weights, by name) in place of its layers."""
    replacements = replacements or {}
    apply_masks(masked_kernels(network.stack))
    sources = strip(network.stack)

    def transform(layers):
        for layer, source in zip(layers, sources):
            layer.set_weights(source.get_weights())
        return [replacements.get(layer.name, layer) for layer in layers]

    return network.copy(layer_transform=transform, name=f"Serving{type(network).__name__}")


@dataclasses.dataclass
class Serving:
    """What an export serves: `network` and its compiled `serve` function (stored packed and
    multiplied packed where that pays), the plain dense network and its function (for
    TFLite), and `report`: what was packed and why, and both served formats' times."""

    network: tf.keras.layers.Layer
    serve: Callable
    dense_network: tf.keras.layers.Layer
    dense_serve: Callable
    report: dict


def choose_serving(network, packing: str, make_serve: Callable, observations: np.ndarray,
                   batch_size: int = 1) -> Serving:
    """Stores each layer packed where `layer_choices` says, and serves its dense layers with
    the packed product where it picks it; with `auto`, keeps those products only if the whole
    network is also faster so at `batch_size` (of `observations`). Times both formats at each
    of `SERVING_BATCHES` whenever a dense layer is stored packed."""
    dense = serving_copy(network)
    dense_serve = make_serve(dense)
    layers, unpacked, products = layer_choices(dense.stack, packing, batch_size)
    report = {"packing": packing, "serving_batch_size": batch_size, "layers": layers,
              "format": "packed" if unpacked else "dense"}
    stored = serving_copy(network, unpacked) if unpacked else dense
    stored_serve = make_serve(stored) if unpacked else dense_serve

    def served_dense(reason: str) -> Serving:
        for choice in layers.values():
            choice["served"] = "dense"
        return Serving(stored, stored_serve, dense, dense_serve,
                       {**report, "served": "dense", "reason": reason})

    if not products:
        return served_dense("--packing=dense" if packing == "dense" else
                            "no layer has pruned weights" if not layers else
                            "no dense layer is smaller packed; see layers")
    # The packed format: the layers whose product is faster, or all of them when none is (so
    # that batch_ms shows the trade-off either way).
    faster = {name: product for name, product in products.items()
              if layers[name]["served"] == "packed"} or products
    packed = serving_copy(network, {**unpacked, **faster})
    serve = make_serve(packed)
    report["batch_ms"] = {}
    for batch in sorted({*SERVING_BATCHES, batch_size}):
        inputs = tf.constant(np.resize(observations, (batch, *observations.shape[1:])))
        seconds = best_seconds({"dense": stored_serve, "packed": serve}, inputs)
        report["batch_ms"][str(batch)] = {name: 1000 * s for name, s in seconds.items()}
    times = report["batch_ms"][str(batch_size)]
    if packing == "auto" and times["packed"] >= times["dense"]:
        return served_dense(f"the packed products took {times['packed']:.3f} ms at batch "
                            f"{batch_size} against {times['dense']:.3f} ms dense")
    for name in faster:
        layers[name]["served"] = "packed"
    return Serving(packed, serve, dense, dense_serve, {**report, "served": "packed"})
