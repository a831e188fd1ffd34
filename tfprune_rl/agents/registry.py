"""The value-based agents, one registry entry each: its TF-Agents agent class (our subclass
where TF-Agents has none), the network head it trains (`networks.heads`: what the network returns
and how Q(s, .) is read from it), and its options. The trainers, the export and the diagnostics
ask the entry and the head; nothing else branches on the agent. Paper defaults of an agent's
own constants live in its class (for example IQN's fractions, Munchausen's tau).

The replay buffer computes n-step returns and gamma^n discounts, so agents are built with
gamma 1: their target is reward + discount * Q(next), with both already discounted.
"""

import dataclasses
from typing import Callable

import tensorflow as tf
from tf_agents.agents import tf_agent
from tf_agents.agents.dqn import dqn_agent
from tf_agents.networks import network
from tf_agents.utils import common

from tfprune_rl.agents.categorical import WeightedCategoricalDqnAgent
from tfprune_rl.agents.cql import CqlDqnAgent
from tfprune_rl.agents.iqn import IqnAgent, MunchausenIqnAgent
from tfprune_rl.networks.heads import CategoricalHead, QuantileHead, ValueHead
from tfprune_rl.pruning import MaskedAdam


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


@dataclasses.dataclass(frozen=True)
class AgentSpec:
    """`agent_class(time_step_spec, action_spec, q_network, **common, **options(hparams))`,
    with `seed` too when `seeded` (an agent that draws random numbers in its loss)."""

    agent_class: Callable
    head: Callable[[DqnHyperparams], ValueHead] = lambda hparams: ValueHead()
    options: Callable[[DqnHyperparams], dict] = lambda hparams: {}
    seeded: bool = False


def _categorical_head(hparams: DqnHyperparams) -> CategoricalHead:
    return CategoricalHead(num_atoms=51, v_max=hparams.v_max)  # 51 atoms, as in the paper


def _cql(hparams: DqnHyperparams) -> dict:
    return {"cql_alpha": hparams.cql_alpha}


AGENTS = {
    "dqn": AgentSpec(dqn_agent.DqnAgent),
    "double_dqn": AgentSpec(dqn_agent.DdqnAgent),
    "c51": AgentSpec(WeightedCategoricalDqnAgent, _categorical_head),
    "iqn": AgentSpec(IqnAgent, lambda hparams: QuantileHead(), seeded=True),
    "m_iqn": AgentSpec(MunchausenIqnAgent, lambda hparams: QuantileHead(), seeded=True),
    "cql": AgentSpec(CqlDqnAgent, options=_cql),
    "cql_c51": AgentSpec(WeightedCategoricalDqnAgent, _categorical_head, _cql),
}


def agent_spec(name: str) -> AgentSpec:
    if name not in AGENTS:
        raise ValueError(f"unknown agent {name!r}; choose one of {', '.join(AGENTS)}")
    return AGENTS[name]


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
    agent = spec.agent_class(
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
