"""Encoders with a width multiplier, Q-network heads, and Q-networks as TF-Agents Networks.
Each name is imported from its module when first used (`tfprune_rl.lazy`)."""

from tfprune_rl.lazy import exports

ENCODERS = ("mlp", "minatar", "nature", "impala")  # `encoders.make_encoder` builds each

__getattr__, _exported = exports(__name__, {
    "encoders": ("Encoder", "make_encoder"),
    "heads": ("CategoricalHead", "QuantileHead", "ValueHead"),
    "q_network": ("Probe", "QNetwork"),
})
__all__ = ["ENCODERS", *_exported]
