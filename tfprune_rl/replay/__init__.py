"""Replay buffers."""

from tfprune_rl.replay.uniform import UniformReplay

__all__ = ["UniformReplay"]
