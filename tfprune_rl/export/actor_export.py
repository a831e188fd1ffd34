"""A stripped, sparse SavedModel of a continuous-control actor: TF-Agents' PolicySaver format
(`action`, `get_train_step`, `get_metadata`, ...) plus `serving_default`: observations -> action.
Checked against the live actor and written whole or not at all, as Q-network exports."""

import os

import numpy as np
import tensorflow as tf
from tf_agents.policies import actor_policy, policy_saver
from tf_agents.trajectories import time_step as ts

from tfprune_rl.export.run_export import (
    SAVED_MODEL, ExportCheckError, build_export, check_finite, saved_model_report,
)
from tfprune_rl.export.saved_model import metadata_variable
from tfprune_rl.networks.actor_critic import ActorNetwork
from tfprune_rl.pruning import apply_masks, pruning_wrappers, strip


def stripped_actor(actor: ActorNetwork) -> ActorNetwork:
    """A wrapper-free copy holding `actor`'s re-masked weights."""
    apply_masks(pruning_wrappers(actor.stack))
    plain = actor.copy(layer_transform=None, name="ServingActorNetwork")
    for target, source in zip(plain.stack, strip(actor.stack)):
        target.set_weights(source.get_weights())
    return plain


def export_actor(actor: ActorNetwork, action_spec, output_dir: str, observations: np.ndarray,
                 metadata: dict, train_step: int) -> dict:
    """Exports the deterministic policy to `output_dir`; returns the report (sparsity read from
    the written files)."""
    observation_spec = actor.input_tensor_spec
    time_step_spec = ts.time_step_spec(observation_spec)
    check_finite(actor, actor(tf.constant(observations, tf.float32))[0].numpy())

    def build(tmp_dir: str) -> dict:
        path = os.path.join(tmp_dir, SAVED_MODEL)
        plain = stripped_actor(actor)
        policy = actor_policy.ActorPolicy(time_step_spec, action_spec, plain, training=False)
        saver = policy_saver.PolicySaver(
            policy, train_step=tf.Variable(train_step, dtype=tf.int64, name="train_step"),
            metadata={key: metadata_variable(key, value) for key, value in metadata.items()})

        @tf.function(input_signature=[tf.TensorSpec((None, *observation_spec.shape), tf.float32,
                                                    "observation")])
        def serve(observation):
            return {"action": plain(observation)[0]}

        saver.register_concrete_function("serve", serve)
        saver.signatures["serving_default"] = serve.get_concrete_function()
        saver.save(path)
        live = actor(tf.constant(observations, tf.float32))[0].numpy()
        served = tf.saved_model.load(path).signatures["serving_default"](
            observation=tf.constant(observations, tf.float32))["action"].numpy()
        if not np.allclose(served, live, rtol=1e-5, atol=1e-6):
            raise ExportCheckError(
                f"the SavedModel's actions differ from the live actor's by up to "
                f"{float(np.max(np.abs(served - live))):.3g} on {len(live)} observations")
        return saved_model_report(path, metadata, train_step, len(observations))

    return build_export(output_dir, build)
