"""TF-Agents value-based agents behind one registry (`AGENTS`): DQN, double DQN, C51
(Rainbow-lite with n-step, prioritized replay), IQN and Munchausen-IQN, CQL and CQL+C51 for
offline data; and the re-initialization baselines (ReDo, last-layer reset)."""

from tfprune_rl.agents.cql import conservative_penalty
from tfprune_rl.agents.exploration import epsilon_greedy, linearly_decaying_epsilon
from tfprune_rl.agents.registry import (
    AGENTS, AgentSpec, DqnHyperparams, agent_spec, create_agent, make_optimizer,
    per_example_loss,
)
from tfprune_rl.agents.reinitialize import recycle_dormant, reset_last_layer

__all__ = [
    "AGENTS", "AgentSpec", "DqnHyperparams", "agent_spec", "conservative_penalty",
    "create_agent", "epsilon_greedy", "linearly_decaying_epsilon", "make_optimizer",
    "per_example_loss", "recycle_dormant", "reset_last_layer",
]
