"""TF-Agents value-based agents: DQN, double DQN and C51 (Rainbow-lite with n-step, prioritized replay)."""

from tfprune_rl.agents.exploration import linearly_decaying_epsilon
from tfprune_rl.agents.factory import (
    AGENTS, DqnHyperparams, create_agent, num_atoms, per_example_loss,
)

__all__ = [
    "AGENTS", "DqnHyperparams", "create_agent", "linearly_decaying_epsilon", "num_atoms",
    "per_example_loss",
]
