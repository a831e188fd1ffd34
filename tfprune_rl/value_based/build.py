"""The network and agent a run config describes: built the same way to train, to resume, and
to export from a checkpoint."""

import os
from typing import Callable

import tensorflow as tf
from tf_agents.trajectories import time_step as ts

from tfprune_rl import pruning
from tfprune_rl.agents import agent_spec, create_agent, linearly_decaying_epsilon, make_optimizer
from tfprune_rl.envs import env_specs, make_gym_env
from tfprune_rl.networks import QNetwork
from tfprune_rl.lifecycle.checkpoints import checkpoint_path
from tfprune_rl.value_based.config import TrainConfig


def build_q_network(config: TrainConfig, observation_spec, action_spec,
                    updater: pruning.Updater) -> QNetwork:
    """The online network, its kernels wrapped by `updater` (the run's pruning method) when
    `config.pruning.sparsity` > 0."""
    layer_transform = updater.wrap if config.pruning.sparsity > 0 else None
    return QNetwork(
        observation_spec, action_spec, config.encoder, config.width, config.hidden_units,
        agent_spec(config.agent).head(config.hparams), layer_transform, config.l2_normalize,
    )


def check_memory(config: TrainConfig, observation_spec, action_spec) -> None:
    """Refuses, before anything is written, a width whose networks cannot fit in this
    machine's memory. Estimate: the width-1 network's parameters times width^2 (hidden-to-
    hidden kernels grow so; an upper bound), times 6 float32 copies (weights, target, mask,
    gradient and Adam's two moments)."""
    base = QNetwork(observation_spec, action_spec, config.encoder, 1, config.hidden_units,
                    agent_spec(config.agent).head(config.hparams))
    base.create_variables()
    parameters = base.count_params() * config.width ** 2
    needed, memory = parameters * 6 * 4, os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if needed > memory:
        raise ValueError(f"width={config.width} needs about {needed / 2**30:,.1f} GiB for "
                         f"~{parameters:,} parameters (x 6 float32 copies), more than this "
                         f"machine's {memory / 2**30:,.1f} GiB; choose a smaller width")


def collect_epsilon(config: TrainConfig, env_steps: tf.Variable) -> Callable[[], tf.Tensor]:
    """The collect policy's epsilon as a function of the env step counter `env_steps`."""
    return lambda: linearly_decaying_epsilon(
        env_steps, config.learning_starts, config.epsilon_decay_steps, config.epsilon_final
    )


def build_agent(config: TrainConfig, time_step_spec, action_spec, q_network: QNetwork,
                epsilon: Callable[[], tf.Tensor], optimizer: tf.keras.optimizers.Optimizer):
    """`optimizer` comes from `make_optimizer` with the network's masked kernels: ReDo and
    reset need it too."""
    return create_agent(
        config.agent, time_step_spec, action_spec, q_network, config.hparams, epsilon,
        train_step_counter=tf.Variable(0, dtype=tf.int64, name="train_steps"),
        optimizer=optimizer, seed=config.seed,
    )


def restore_q_network(config: TrainConfig, env_step: int):
    """The online network of the run's checkpoint at `env_step`, with its specs and update count.

    Returns (q_network, time_step_spec, action_spec, train_step).
    """
    env = make_gym_env(config.env_id, config.sticky_actions)
    observation_spec, action_spec = env_specs(env)
    env.close()
    time_step_spec = ts.time_step_spec(observation_spec)
    q_network = build_q_network(config, observation_spec, action_spec,
                                pruning.create_updater(config.pruning))
    env_steps = tf.Variable(0, dtype=tf.int64, name="env_steps")
    optimizer = make_optimizer(config.hparams, pruning.masked_kernels(q_network.stack))
    agent = build_agent(config, time_step_spec, action_spec, q_network,
                        collect_epsilon(config, env_steps), optimizer)
    path = checkpoint_path(os.path.join(config.root_dir, "checkpoints"), env_step)
    status = tf.train.Checkpoint(agent=agent, env_steps=env_steps).read(path)
    status.assert_existing_objects_matched().expect_partial()
    return q_network, time_step_spec, action_spec, int(agent.train_step_counter)


def export_metadata(config: TrainConfig, env_step: int) -> dict:
    """What an export records about the run it came from (the update count is added by export)."""
    return {"env_id": config.env_id, "sticky_actions": config.sticky_actions,
            "mode": config.mode, "agent": config.agent, "encoder": config.encoder,
            "width": config.width, "pruning": config.pruning.method,
            "target_sparsity": config.pruning.sparsity, "l2_normalize": config.l2_normalize,
            "seed": config.seed, "env_step": env_step}
