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
    `optimizer` (see `make_optimizer`) and Huber TD errors where the agent takes them.

    Its `train` makes no target update: the trainer calls `sync_target` after every
    `target_update_period`-th update. Inside `train`, TF-Agents' update is a conditional
    that XLA compiles into a copy of the target's whole state (masks included) in every
    update, whether or not it is due: 5-6% of a pruned MinAtar update at width 1-3 (measured
    in the optimized HLO and in time)."""
    spec = agent_spec(name)
    agent = load(spec.agent_class)(
        time_step_spec, action_spec, q_network=q_network, optimizer=optimizer,
        epsilon_greedy=epsilon, gamma=1.0, target_update_tau=1.0,
        target_update_period=None,
        td_errors_loss_fn=common.element_wise_huber_loss, train_step_counter=train_step_counter,
        **spec.options(hparams), **({"seed": seed} if spec.seeded else {}))
    agent.initialize()
    return agent


def sync_target(agent: dqn_agent.DqnAgent) -> None:
    """The hard target update: the target network's kernels and biases become the online
    network's. Its masks stay those of `agent.initialize()`: its forward pass never reads them
    (the online kernels it copies are already masked)."""
    soft_update(agent._q_network.trainable_variables,  # pylint: disable=protected-access
                agent._target_q_network.trainable_variables, 1.0)  # pylint: disable=protected-access


def soft_update(source: list[tf.Variable], target: list[tf.Variable], tau: float) -> None:
    """target <- tau * source + (1 - tau) * target; tau 1 copies (as TF-Agents does)."""
    for s, t in zip(source, target, strict=True):
        t.assign(s if tau == 1.0 else tau * s + (1.0 - tau) * t)


def per_example_loss(loss_info: tf_agent.LossInfo) -> tf.Tensor:
    """Each sampled transition's unweighted loss (every agent's `td_loss`): what prioritized
    replay's priorities follow."""
    return loss_info.extra.td_loss
