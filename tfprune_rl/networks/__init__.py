"""Encoders with a width multiplier and Q-networks as TF-Agents Networks."""

from tfprune_rl.networks.encoders import mlp
from tfprune_rl.networks.q_network import QNetwork

__all__ = ["QNetwork", "mlp"]
