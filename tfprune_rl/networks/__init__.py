"""Encoders with a width multiplier and Q-networks as TF-Agents Networks."""

from tfprune_rl.networks.encoders import ENCODERS, Encoder, make_encoder
from tfprune_rl.networks.q_network import Probe, QNetwork, q_values

__all__ = ["ENCODERS", "Encoder", "Probe", "QNetwork", "make_encoder", "q_values"]
