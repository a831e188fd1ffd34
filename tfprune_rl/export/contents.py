"""What an exported file holds, read from the file itself: every stored tensor's shape, zeros
and bytes, for a SavedModel directory or a .tflite file; and raw and gzip sizes.

Sparsity counts the weight tensors (rank 2 and up: dense and conv kernels), never biases or
scalars. A .tflite tensor stored in TFLite's sparse format holds only its kept values; the
entries it leaves out count as zeros. A packed kernel in a SavedModel
(`tfprune_rl.export.packed`) is read as the dense kernel it stands for, with the bytes of its
parts; parts that do not fit together are refused.
"""

import dataclasses
import io
import os
import tarfile

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2, trackable_object_graph_pb2
from tensorflow.lite.python import schema_py_generated as tflite_schema

from tfprune_rl.export.packed import VARIABLE_NAMES, PackedKernel, unpack

_TFLITE_DTYPES = {
    tflite_schema.TensorType.FLOAT32: np.float32, tflite_schema.TensorType.FLOAT16: np.float16,
    tflite_schema.TensorType.INT32: np.int32, tflite_schema.TensorType.INT64: np.int64,
    tflite_schema.TensorType.INT8: np.int8, tflite_schema.TensorType.UINT8: np.uint8,
    tflite_schema.TensorType.INT16: np.int16, tflite_schema.TensorType.BOOL: np.bool_,
}


@dataclasses.dataclass(frozen=True)
class StoredTensor:
    name: str
    shape: tuple[int, ...]
    dtype: str
    zeros: int
    bytes: int
    format: str = "dense"

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def is_weight(self) -> bool:
        return len(self.shape) >= 2

    def as_dict(self) -> dict:
        zeros_fraction = self.zeros / self.size if self.size else 0.0
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype,
                "zeros_fraction": zeros_fraction, "bytes": self.bytes, "format": self.format}


def saved_variables(path: str) -> dict[str, np.ndarray]:
    """Every variable in a SavedModel, read from its files and keyed by variable name.

    Names come from the SavedModel's object graph, values from its variables checkpoint;
    the two object graphs share node ids.
    """
    saved_model = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        saved_model.ParseFromString(f.read())
    reader = tf.train.load_checkpoint(os.path.join(path, "variables", "variables"))
    checkpoint_graph = trackable_object_graph_pb2.TrackableObjectGraph()
    checkpoint_graph.ParseFromString(reader.get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"))
    variables = {}
    nodes = saved_model.meta_graphs[0].object_graph_def.nodes
    for node, checkpoint_node in zip(nodes, checkpoint_graph.nodes):
        if node.WhichOneof("kind") == "variable":
            key = checkpoint_node.attributes[0].checkpoint_key
            variables[node.variable.name] = reader.get_tensor(key)
    return variables


def _unpacked_variables(path: str) -> dict[str, tuple[np.ndarray, int, str]]:
    """name -> (value, bytes stored, format); a packed kernel's parts become one dense
    `LAYER/kernel`."""
    variables = saved_variables(path)
    parts = set(VARIABLE_NAMES.values())
    unpacked = {}
    for name, value in variables.items():
        layer, _, part = name.rpartition("/")
        if part not in parts:
            unpacked[name] = (np.asarray(value), int(np.asarray(value).nbytes), "dense")
        elif part == VARIABLE_NAMES["values"]:
            missing = [p for p in VARIABLE_NAMES.values() if f"{layer}/{p}" not in variables]
            if missing:
                raise ValueError(f"packed {layer}/kernel in {path} is corrupted: "
                                 f"{', '.join(missing)} missing")
            packed = PackedKernel(**{field: np.asarray(variables[f"{layer}/{p}"])
                                     for field, p in VARIABLE_NAMES.items()})
            unpacked[f"{layer}/kernel"] = (unpack(packed, f"{layer}/kernel in {path}"),
                                           packed.nbytes, "packed")
    return unpacked


def saved_kernels(path: str) -> dict[str, np.ndarray]:
    """The SavedModel's kernels (packed ones unpacked), keyed by layer name."""
    return {name.rsplit("/", 2)[-2]: value for name, (value, _, _) in _unpacked_variables(path).items()
            if name.endswith("/kernel")}


def stored_tensors(path: str) -> list[StoredTensor]:
    """The tensors stored in a SavedModel directory or a .tflite file."""
    if os.path.isdir(path) and os.path.exists(os.path.join(path, "saved_model.pb")):
        return [dataclasses.replace(_from_array(name, value), bytes=stored, format=form)
                for name, (value, stored, form) in _unpacked_variables(path).items()]
    if os.path.isfile(path) and path.endswith(".tflite"):
        return _tflite_tensors(path)
    raise ValueError(f"{path} is neither a SavedModel directory (with saved_model.pb) "
                     "nor a .tflite file")


def _from_array(name: str, value: np.ndarray) -> StoredTensor:
    zeros = int(np.sum(value == 0)) if value.dtype.kind in "biuf" else 0
    return StoredTensor(name, tuple(value.shape), str(value.dtype), zeros, int(value.nbytes))


def _tflite_tensors(path: str) -> list[StoredTensor]:
    with open(path, "rb") as f:
        data = f.read()
    model = tflite_schema.Model.GetRootAsModel(data, 0)
    tensors = []
    for subgraph_index in range(model.SubgraphsLength()):
        subgraph = model.Subgraphs(subgraph_index)
        for index in range(subgraph.TensorsLength()):
            tensor = subgraph.Tensors(index)
            raw = _tflite_buffer(model, data, tensor.Buffer())
            if not raw:
                continue  # computed at run time, not stored
            dtype = np.dtype(_TFLITE_DTYPES.get(tensor.Type(), np.uint8))
            shape = tuple(int(d) for d in tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()
            values = np.frombuffer(raw, dtype=dtype)
            size = int(np.prod(shape, dtype=np.int64))
            zeros = size - int(np.count_nonzero(values))  # sparse tensors store only kept values
            tensors.append(StoredTensor(tensor.Name().decode(), shape, dtype.name, zeros, len(raw)))
    return tensors


def _tflite_buffer(model, data: bytes, index: int) -> bytes:
    """A buffer's bytes: inside the flatbuffer, or after it (offset/size) in files over 2 GB."""
    buffer = model.Buffers(index)
    if buffer.Offset() > 1:
        return data[buffer.Offset(): buffer.Offset() + buffer.Size()]
    return buffer.DataAsNumpy().tobytes() if buffer.DataLength() else b""


def summarize(path: str) -> dict:
    """Every stored tensor, the weights' sparsity and count, raw and gzip bytes of `path`."""
    tensors = stored_tensors(path)
    return {
        "path": path,
        "tensors": [tensor.as_dict() for tensor in tensors],
        "weight_sparsity": weight_sparsity(tensors),
        "weight_parameters": sum(t.size for t in tensors if t.is_weight),
        "bytes": disk_bytes(path),
        "gzip_bytes": gzip_bytes(path),
    }


def weight_sparsity(tensors: list[StoredTensor]) -> float:
    """Zeros over all weight entries (kernels of rank 2 and up)."""
    weights = [t for t in tensors if t.is_weight]
    return sum(t.zeros for t in weights) / max(1, sum(t.size for t in weights))


def disk_bytes(path: str) -> int:
    """A file's size, or the total size of the files under a directory."""
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(root, name))
               for root, _, names in os.walk(path) for name in names)


def gzip_bytes(path: str) -> int:
    """Size of `path` as a .tar.gz (level 9): what a download of the model costs."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=9) as archive:
        archive.add(path, arcname=os.path.basename(path))
    return len(buffer.getvalue())
