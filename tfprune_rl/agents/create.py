"""Builds a registered agent (`agents.registry`) with its optimizer."""

from typing import Callable

import tensorflow as tf
from tf_agents.agents import tf_agent
from tf_agents.agents.dqn import dqn_agent
from tf_agents.networks import network
from tf_agents.utils import common

from tfprune_rl.agents.registry import DqnHyperparams, agent_spec
from tfprune_rl.lazy import load
from tfprune_rl.pruning import MaskedAdam


def make_optimizer(hparams: DqnHyperparams, masked_kernels=()) -> MaskedAdam:
    """Adam that never moves the pruned entries of `masked_kernels` ((kernel, mask) pairs,
    `pruning.masked_kernels`); with `weight_decay` > 0, decoupled weight decay as in AdamW
    (Loshchilov & Hutter 2019, optax.adamw): after each step every kernel and bias w becomes
    w - lr * decay * w."""
    return MaskedAdam(hparams.learning_rate, epsilon=hparams.adam_epsilon,
                      weight_decay=hparams.weight_decay or None, masked_kernels=masked_kernels)


def create_agent(
    name: str,
    time_step_spec,
    action_spec,
    q_network: network.Network,
    hparams: DqnHyperparams,
    epsilon: Callable[[], tf.Tensor],
    train_step_counter: tf.Variable,
    optimizer: tf.keras.optimizers.Optimizer,
    seed: int = 0,
) -> dqn_agent.DqnAgent:
    """The registered agent `name` on `q_network` (built with its entry's head), with
    `optimizer` (see `make_optimizer`), Huber TD errors where the agent takes them, and a hard
    target update every `target_update_period` updates."""
    spec = agent_spec(name)
    agent = load(spec.agent_class)(
        time_step_spec, action_spec, q_network=q_network, optimizer=optimizer,
        epsilon_greedy=epsilon, gamma=1.0, target_update_tau=1.0,
        target_update_period=hparams.target_update_period,
        td_errors_loss_fn=common.element_wise_huber_loss, train_step_counter=train_step_counter,
        **spec.options(hparams), **({"seed": seed} if spec.seeded else {}))
    agent.initialize()
    return agent


def per_example_loss(loss_info: tf_agent.LossInfo) -> tf.Tensor:
    """Each sampled transition's unweighted loss (every agent's `td_loss`): what prioritized
    replay's priorities follow."""
    return loss_info.extra.td_loss
