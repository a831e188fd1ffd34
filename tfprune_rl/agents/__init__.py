"""TF-Agents value-based agents."""

from tfprune_rl.agents.exploration import linearly_decaying_epsilon
from tfprune_rl.agents.factory import AGENTS, DqnHyperparams, create_agent

__all__ = ["AGENTS", "DqnHyperparams", "create_agent", "linearly_decaying_epsilon"]
