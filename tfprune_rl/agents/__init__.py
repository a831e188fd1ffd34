"""TF-Agents value-based agents: DQN, double DQN and C51 (Rainbow-lite with n-step, prioritized
replay), CQL and CQL+C51 for offline data, and the re-initialization baselines (ReDo,
last-layer reset)."""

from tfprune_rl.agents.cql import conservative_penalty
from tfprune_rl.agents.exploration import epsilon_greedy, linearly_decaying_epsilon
from tfprune_rl.agents.factory import (
    AGENTS, DqnHyperparams, create_agent, make_optimizer, num_atoms, per_example_loss,
)
from tfprune_rl.agents.reinitialize import recycle_dormant, reset_last_layer

__all__ = [
    "AGENTS", "DqnHyperparams", "conservative_penalty", "create_agent", "epsilon_greedy",
    "linearly_decaying_epsilon", "make_optimizer", "num_atoms", "per_example_loss",
    "recycle_dormant", "reset_last_layer",
]
