"""Encoders with a width multiplier, Q-network heads, and Q-networks as TF-Agents Networks."""

from tfprune_rl.networks.encoders import ENCODERS, Encoder, make_encoder
from tfprune_rl.networks.heads import CategoricalHead, QuantileHead, ValueHead
from tfprune_rl.networks.q_network import Probe, QNetwork

__all__ = ["CategoricalHead", "ENCODERS", "Encoder", "Probe", "QNetwork", "QuantileHead",
           "ValueHead", "make_encoder"]
