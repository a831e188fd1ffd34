"""One place that turns an agent name and hyperparameters into a TF-Agents agent.

The replay buffer computes n-step returns and gamma^n discounts, so agents are built with
gamma 1: their target is reward + discount * Q(next), with both already discounted.
"""

import dataclasses
import functools
from typing import Callable

import tensorflow as tf
from tf_agents.agents import tf_agent
from tf_agents.agents.dqn import dqn_agent
from tf_agents.networks import network
from tf_agents.utils import common

from tfprune_rl.agents.categorical import CategoricalLossInfo, WeightedCategoricalDqnAgent
from tfprune_rl.agents.cql import CqlDqnAgent
from tfprune_rl.pruning import MaskedAdam

AGENTS = ("dqn", "double_dqn", "c51", "cql", "cql_c51")
CATEGORICAL_AGENTS = ("c51", "cql_c51")


@dataclasses.dataclass(frozen=True)
class DqnHyperparams:
    learning_rate: float
    adam_epsilon: float
    gamma: float
    target_update_period: int
    v_max: float = 10.0
    weight_decay: float = 0.0
    cql_alpha: float = 0.1

    def __post_init__(self):
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate={self.learning_rate} must be > 0")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay={self.weight_decay} must be >= 0")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma={self.gamma} must be in [0, 1]")
        if self.target_update_period < 1:
            raise ValueError(f"target_update_period={self.target_update_period} must be >= 1")
        if self.v_max <= 0:
            raise ValueError(f"v_max={self.v_max} must be > 0")
        if self.cql_alpha < 0:
            raise ValueError(f"cql_alpha={self.cql_alpha} must be >= 0")


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
) -> dqn_agent.DqnAgent:
    """DQN, double DQN (Huber loss) or C51 (support [-v_max, v_max]), or CQL on the DQN or C51
    head with `hparams.cql_alpha`; with `optimizer` (see `make_optimizer`) and a hard target
    update every `target_update_period` updates."""
    if name not in AGENTS:
        raise ValueError(f"unknown agent {name!r}; choose one of {AGENTS}")
    common_args = dict(
        optimizer=optimizer,
        epsilon_greedy=epsilon,
        gamma=1.0,
        target_update_tau=1.0,
        target_update_period=hparams.target_update_period,
        train_step_counter=train_step_counter,
    )
    if name in CATEGORICAL_AGENTS:
        agent = WeightedCategoricalDqnAgent(
            time_step_spec, action_spec, categorical_q_network=q_network,
            min_q_value=-hparams.v_max, max_q_value=hparams.v_max,
            cql_alpha=hparams.cql_alpha if name == "cql_c51" else 0.0, **common_args,
        )
    else:
        if name == "cql":
            agent_class = functools.partial(CqlDqnAgent, cql_alpha=hparams.cql_alpha)
        else:
            agent_class = dqn_agent.DdqnAgent if name == "double_dqn" else dqn_agent.DqnAgent
        agent = agent_class(
            time_step_spec, action_spec, q_network=q_network,
            td_errors_loss_fn=common.element_wise_huber_loss, **common_args,
        )
    agent.initialize()
    return agent


def per_example_loss(loss_info: tf_agent.LossInfo) -> tf.Tensor:
    """Each sampled transition's unweighted loss: what prioritized replay's priorities follow."""
    if isinstance(loss_info.extra, CategoricalLossInfo):
        return loss_info.extra.cross_entropy
    td_error = loss_info.extra.td_error
    return common.element_wise_huber_loss(tf.zeros_like(td_error), td_error)


def num_atoms(agent_name: str) -> int:
    """Atoms of the Q-network head the agent needs (51 for C51, as in the paper)."""
    return 51 if agent_name in CATEGORICAL_AGENTS else 1
