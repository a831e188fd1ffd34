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

Only dense layers are packed. Convolutions stay dense because every packed convolution we
measured was slower than XLA's dense one at 70-94% sparsity (see the README). Whether packing
pays is measured, not guessed: each candidate layer is timed packed and dense at batch 1, then
the whole packed network against the whole dense one.
"""

import dataclasses
import time
from typing import Callable

import numpy as np
import tensorflow as tf

from tfprune_rl.export.options import PACKINGS
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
        for field, name in VARIABLE_NAMES.items():
            value = getattr(self._packed, field)
            setattr(self, name, self.add_weight(
                name=name, shape=value.shape, dtype=tf.as_dtype(value.dtype), trainable=False,
                initializer=tf.constant_initializer(value)))
        if self._bias is not None:
            self.bias = self.add_weight(name="bias", shape=self._bias.shape, trainable=False,
                                        initializer=tf.constant_initializer(self._bias))

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


def layer_choices(layers, packing: str) -> tuple[dict[str, dict], dict[str, PackedDense]]:
    """For each dense layer with pruned weights: its sparsity, dense and packed bytes, and
    (with `auto`) its batch-1 time dense and packed; `packed` says whether it is packed.
    Also returns the packed layers chosen, by name.

    `packed` packs every layer that packing makes smaller; `auto` only those that are also
    faster; `dense` none."""
    if packing not in PACKINGS:
        raise ValueError(f"unsupported packing {packing!r}; choose one of {', '.join(PACKINGS)}")
    choices, chosen = {}, {}
    for layer in layers:
        if type(layer) is not tf.keras.layers.Dense or packing == "dense":
            continue
        kernel = layer.kernel.numpy()
        zeros = int(np.sum(kernel == 0))
        if not zeros:
            continue
        packed = PackedDense(layer)
        choice = {"sparsity": zeros / kernel.size, "dense_bytes": kernel.nbytes,
                  "packed_bytes": packed.packed_bytes}
        choice["packed"] = choice["packed_bytes"] < choice["dense_bytes"]
        if choice["packed"] and packing == "auto":
            compiled = {"dense": tf.function(layer, jit_compile=True),
                        "packed": tf.function(packed, jit_compile=True)}
            seconds = best_seconds(compiled, tf.random.normal((1, kernel.shape[0])))
            choice.update({f"{name}_ms": 1000 * s for name, s in seconds.items()})
            choice["packed"] = seconds["packed"] < seconds["dense"]
        choices[layer.name] = choice
        if choice["packed"]:
            chosen[layer.name] = packed
    return choices, chosen


def serving_copy(network, packed_layers: dict[str, PackedDense] | None = None):
    """A wrapper-free copy of a QNetwork or actor holding its re-masked weights (the optimizer
    moves pruned entries after each forward pass), with `packed_layers` (of that copy's
    weights, by name) in place of their dense layers."""
    packed_layers = packed_layers or {}
    apply_masks(masked_kernels(network.stack))
    sources = strip(network.stack)

    def transform(layers):
        for layer, source in zip(layers, sources):
            layer.set_weights(source.get_weights())
        return [packed_layers.get(layer.name, layer) for layer in layers]

    return network.copy(layer_transform=transform, name=f"Serving{type(network).__name__}")


@dataclasses.dataclass
class Serving:
    """What an export serves: `network` and its compiled `serve` function (packed where that
    pays), the dense network and its function (for TFLite), and `report`: what was packed and
    why."""

    network: tf.keras.layers.Layer
    serve: Callable
    dense_network: tf.keras.layers.Layer
    dense_serve: Callable
    report: dict


def choose_serving(network, packing: str, make_serve: Callable, observation: np.ndarray) -> Serving:
    """Packs the layers `layer_choices` picks; with `auto`, keeps the packed network only if it
    also serves one `observation` faster than the dense one."""
    dense = serving_copy(network)
    dense_serve = make_serve(dense)
    layers, chosen = layer_choices(dense.stack, packing)
    report = {"packing": packing, "layers": layers}

    def served_dense(reason: str) -> Serving:
        return Serving(dense, dense_serve, dense, dense_serve,
                       {**report, "format": "dense", "reason": reason})

    if not chosen:
        return served_dense("--packing=dense" if packing == "dense" else
                            "no dense layer has pruned weights" if not layers else
                            "no layer's packed product is both smaller and (auto) faster than "
                            "its dense one at batch 1; see layers")
    packed = serving_copy(network, chosen)
    serve = make_serve(packed)
    if packing == "auto":
        seconds = best_seconds({"dense": dense_serve, "packed": serve},
                               tf.constant(observation[None]))
        report["batch1_ms"] = {name: 1000 * s for name, s in seconds.items()}
        if seconds["packed"] >= seconds["dense"]:
            return served_dense(f"the packed network took {1000 * seconds['packed']:.3f} ms at "
                                f"batch 1 against {1000 * seconds['dense']:.3f} ms dense")
    return Serving(packed, serve, dense, dense_serve, {**report, "format": "packed"})
