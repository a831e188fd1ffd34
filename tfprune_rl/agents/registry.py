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
from tfprune_rl.settings import at_least, between, check_settings, positive, setting


@dataclasses.dataclass(frozen=True)
class DqnHyperparams:
    """What the agents are built with. Defaults: CartPole's; each help gives the paper's."""
    learning_rate: float = setting(1e-3, "Adam learning rate (paper, Atari: 6.25e-5).", positive)
    adam_epsilon: float = setting(1e-8, "Adam epsilon (paper, Atari: 1.5e-4).", positive)
    gamma: float = setting(0.99, "Discount factor. Paper: 0.99.", between(0.0, 1.0, high_open=True))
    target_update_period: int = setting(
        256, "Gradient updates between target network copies (paper, Atari: 2000, Dopamine's "
        "8,000 agent steps at --update_period=4).", at_least(1))
    v_max: float = setting(10.0, "C51 support is [-v_max, v_max] with 51 atoms. Paper: 10.",
                           positive)
    weight_decay: float = setting(0.0, "Decoupled (AdamW-style) weight decay: each update, "
                                  "w -= learning_rate * weight_decay * w. 0 is off; the paper's "
                                  "weight-decay baseline: 1e-5.", at_least(0))
    cql_alpha: float = setting(0.1, "Weight of CQL's conservative term (agents cql, cql_c51). "
                               "Paper: 0.1.", at_least(0))

    def __post_init__(self):
        check_settings(self)


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


