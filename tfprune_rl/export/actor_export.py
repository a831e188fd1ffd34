"""A sparse SavedModel of a continuous-control actor: TF-Agents' PolicySaver format (`action`,
`get_train_step`, `get_metadata`, ...) plus `serving_default`: observations -> action, packed
where that pays. Checked against the live actor and written whole or not at all, as Q-network
exports."""

import os

import numpy as np
import tensorflow as tf
from tf_agents.policies import actor_policy
from tf_agents.trajectories import time_step as ts

from tfprune_rl.export.packed import choose_serving
from tfprune_rl.export.run_export import (
    SAVED_MODEL, ExportCheckError, build_export, check_finite, saved_model_report,
)
from tfprune_rl.export.saved_model import write_saved_model
from tfprune_rl.networks.actor_critic import ActorNetwork


def actor_serving_function(actor: ActorNetwork):
    """observations -> {action}, batch of any size, compiled with XLA."""
    observation_spec = actor.input_tensor_spec

    @tf.function(jit_compile=True, input_signature=[
        tf.TensorSpec((None, *observation_spec.shape), tf.float32, "observation")])
    def serve(observation):
        return {"action": actor(observation)[0]}

    return serve


def export_actor(actor: ActorNetwork, action_spec, output_dir: str, observations: np.ndarray,
                 metadata: dict, train_step: int, packing: str = "auto") -> dict:
    """Exports the deterministic policy to `output_dir`; returns the report (sparsity read from
    the written files)."""
    time_step_spec = ts.time_step_spec(actor.input_tensor_spec)
    observations = observations.astype(np.float32)
    check_finite(actor, actor(tf.constant(observations))[0].numpy())

    def build(tmp_dir: str) -> dict:
        path = os.path.join(tmp_dir, SAVED_MODEL)
        serving = choose_serving(actor, packing, actor_serving_function, observations[0])
        policy = actor_policy.ActorPolicy(time_step_spec, action_spec, serving.network,
                                          training=False)
        write_saved_model(policy, serving.serve, path, train_step, metadata)
        live = actor(tf.constant(observations))[0].numpy()  # re-masked by serving_copy
        served = tf.saved_model.load(path).signatures["serving_default"](
            observation=tf.constant(observations))["action"].numpy()
        if not np.allclose(served, live, rtol=1e-5, atol=1e-6):
            raise ExportCheckError(
                f"the SavedModel's actions differ from the live actor's by up to "
                f"{float(np.max(np.abs(served - live))):.3g} on {len(live)} observations")
        report = saved_model_report(path, metadata, train_step, len(observations))
        return {**report, "packing": serving.report}

    return build_export(output_dir, build)
