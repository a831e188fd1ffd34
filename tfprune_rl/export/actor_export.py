"""Sparse SavedModels of a continuous-control actor, as Q-network exports: `serving/`
(`serving_default`: observations -> action, packed where that pays; plain TensorFlow loads it)
and TF-Agents' PolicySaver format (`action`, `get_train_step`, `get_metadata`, ...). Checked
against the live actor and written whole or not at all."""

import numpy as np
import tensorflow as tf
from tf_agents.policies import actor_policy
from tf_agents.trajectories import time_step as ts

from tfprune_rl.export.packed import choose_serving
from tfprune_rl.export.run_export import (
    ExportCheckError, build_export, check_finite, saved_model_report, write_saved_models,
)
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
                 metadata: dict, train_step: int, packing: str = "auto",
                 serving_batch_size: int = 1) -> dict:
    """Exports the deterministic policy to `output_dir`; returns the report (sparsity read from
    the written files)."""
    time_step_spec = ts.time_step_spec(actor.input_tensor_spec)
    observations = observations.astype(np.float32)
    check_finite(actor, actor(tf.constant(observations))[0].numpy())

    def build(tmp_dir: str) -> dict:
        serving = choose_serving(actor, packing, actor_serving_function, observations,
                                 serving_batch_size)
        policy = actor_policy.ActorPolicy(time_step_spec, action_spec, serving.network,
                                          training=False)
        served = write_saved_models(serving, policy, tmp_dir, train_step, metadata,
                                    observations)["action"]
        live = actor(tf.constant(observations))[0].numpy()  # re-masked by serving_copy
        if not np.allclose(served, live, rtol=1e-5, atol=1e-6):
            raise ExportCheckError(
                f"the SavedModel's actions differ from the live actor's by up to "
                f"{float(np.max(np.abs(served - live))):.3g} on {len(live)} observations")
        report = saved_model_report(tmp_dir, metadata, train_step, len(observations))
        return {**report, "packing": serving.report}

    return build_export(output_dir, build)
