"""Replay: a frame-deduplicating circular buffer with n-step returns and prioritized sampling."""

from tfprune_rl.replay.circular import REPLAY_SCHEMES, ROW_FIELDS, ReplayBuffer
from tfprune_rl.replay.sum_tree import SumTree

__all__ = ["REPLAY_SCHEMES", "ROW_FIELDS", "ReplayBuffer", "SumTree"]
