"""Stripped, sparse SavedModels of a Q-network, and sparsity read back from the files.

TF-MOT's `strip_pruning` only takes a `keras.Model`, so a TF-Agents network is stripped layer
by layer: re-mask (the optimizer moves pruned entries after each forward pass), copy the inner
layers' weights into a plain network of the same architecture, save that.
"""

import os
import shutil

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2, trackable_object_graph_pb2

from tfprune_rl.networks import QNetwork
from tfprune_rl.pruning import apply_masks, pruning_wrappers, strip


class _QServing(tf.Module):
    def __init__(self, q_network: QNetwork, observation_spec, action_minimum: int, v_max: float):
        super().__init__(name="q_serving")
        self.q_network = q_network
        self._action_minimum = action_minimum
        self._support = tf.linspace(-v_max, v_max, q_network.num_atoms)
        self.serve = tf.function(
            self._serve,
            input_signature=[
                tf.TensorSpec((None, *observation_spec.shape), observation_spec.dtype, "observation")
            ],
        )

    def _serve(self, observation):
        q_values, _ = self.q_network(observation)
        if self.q_network.num_atoms > 1:  # C51: the mean of each action's return distribution
            q_values = tf.reduce_sum(tf.nn.softmax(q_values) * self._support, axis=-1)
        action = tf.argmax(q_values, axis=-1, output_type=tf.int64) + self._action_minimum
        return {"q_values": q_values, "action": action}


def stripped_copy(q_network: QNetwork) -> QNetwork:
    """A wrapper-free QNetwork holding `q_network`'s re-masked weights."""
    apply_masks(pruning_wrappers(q_network.stack))
    plain = q_network.copy(layer_transform=None, name="ServingQNetwork")
    plain.create_variables()
    for target, source in zip(plain.stack, strip(q_network.stack)):
        target.set_weights(source.get_weights())
    return plain


def export_saved_model(q_network: QNetwork, action_spec, path: str, v_max: float = 10.0) -> None:
    """Writes `path` whole or not at all: saved to a temporary directory, then renamed.

    `v_max` bounds a categorical network's support [-v_max, v_max]; scalar heads ignore it.
    """
    module = _QServing(stripped_copy(q_network), q_network.input_tensor_spec,
                       int(action_spec.minimum), v_max)
    tmp_path, old_path = f"{path}.tmp-{os.getpid()}", f"{path}.old-{os.getpid()}"
    shutil.rmtree(tmp_path, ignore_errors=True)
    tf.saved_model.save(module, tmp_path, signatures={"serving_default": module.serve})
    if os.path.exists(path):
        os.rename(path, old_path)
    os.rename(tmp_path, path)
    shutil.rmtree(old_path, ignore_errors=True)


def saved_kernels(path: str) -> dict[str, np.ndarray]:
    """Every kernel in a SavedModel, read from its files and keyed by layer name.

    Names come from the SavedModel's object graph, values from its variables checkpoint;
    the two object graphs share node ids.
    """
    saved_model = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        saved_model.ParseFromString(f.read())
    reader = tf.train.load_checkpoint(os.path.join(path, "variables", "variables"))
    checkpoint_graph = trackable_object_graph_pb2.TrackableObjectGraph()
    checkpoint_graph.ParseFromString(reader.get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"))
    kernels = {}
    nodes = saved_model.meta_graphs[0].object_graph_def.nodes
    for node, checkpoint_node in zip(nodes, checkpoint_graph.nodes):
        name = node.variable.name if node.WhichOneof("kind") == "variable" else ""
        if name.endswith("/kernel"):
            key = checkpoint_node.attributes[0].checkpoint_key
            kernels[name[: -len("/kernel")]] = reader.get_tensor(key)
    return kernels
