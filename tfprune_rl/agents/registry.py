"""The value-based agents, one registry entry each: its TF-Agents agent class (our subclass
where TF-Agents has none), the network head it trains (`networks.heads`: what the network returns
and how Q(s, .) is read from it), and its options. The trainers, the export and the diagnostics
ask the entry and the head; nothing else branches on the agent. Paper defaults of an agent's
own constants live in its class (for example IQN's fractions, Munchausen's tau).

An entry names its classes as "module:attribute" references, imported when a run is built
(`agents.create`), so that a run's flags are checked before TensorFlow is imported.

The replay buffer computes n-step returns and gamma^n discounts, so agents are built with
gamma 1: their target is reward + discount * Q(next), with both already discounted.
"""

import dataclasses
from typing import Callable

from tfprune_rl.lazy import load


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


@dataclasses.dataclass(frozen=True)
class AgentSpec:
    """`agent_class(time_step_spec, action_spec, q_network, **common, **options(hparams))`,
    with `seed` too when `seeded` (an agent that draws random numbers in its loss);
    `agent_class` is a "module:Class" reference, `head(hparams)` the network's head."""

    agent_class: str
    head: Callable[[DqnHyperparams], object] = lambda hparams: _head("ValueHead")
    options: Callable[[DqnHyperparams], dict] = lambda hparams: {}
    seeded: bool = False


def _head(name: str, **options):
    return load(f"tfprune_rl.networks.heads:{name}")(**options)


def _categorical_head(hparams: DqnHyperparams):
    return _head("CategoricalHead", num_atoms=51, v_max=hparams.v_max)  # 51 atoms, as in the paper


def _cql(hparams: DqnHyperparams) -> dict:
    return {"cql_alpha": hparams.cql_alpha}


AGENTS = {
    "dqn": AgentSpec("tf_agents.agents.dqn.dqn_agent:DqnAgent"),
    "double_dqn": AgentSpec("tf_agents.agents.dqn.dqn_agent:DdqnAgent"),
    "c51": AgentSpec("tfprune_rl.agents.categorical:WeightedCategoricalDqnAgent",
                     _categorical_head),
    "iqn": AgentSpec("tfprune_rl.agents.iqn:IqnAgent", lambda hparams: _head("QuantileHead"),
                     seeded=True),
    "m_iqn": AgentSpec("tfprune_rl.agents.iqn:MunchausenIqnAgent",
                       lambda hparams: _head("QuantileHead"), seeded=True),
    "cql": AgentSpec("tfprune_rl.agents.cql:CqlDqnAgent", options=_cql),
    "cql_c51": AgentSpec("tfprune_rl.agents.categorical:WeightedCategoricalDqnAgent",
                         _categorical_head, _cql),
}
# The continuous-control agents (`agents.continuous`); online ones collect with `explore`.
CONTINUOUS_AGENTS = ("bc", "td3", "td3_bc", "sac", "cql_sac")
ONLINE_AGENTS = ("sac", "td3")  # no dataset term in their losses


def agent_spec(name: str) -> AgentSpec:
    if name not in AGENTS:
        raise ValueError(f"unknown agent {name!r}; choose one of {', '.join(AGENTS)}")
    return AGENTS[name]


