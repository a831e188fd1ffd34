"""The training return a progress line shows: the mean of the last episodes' returns."""

import collections

import numpy as np


class RecentReturns:
    """The returns of the last `size` episodes ended in this process. They are not
    checkpointed, so after a start or a resume there are none until an episode ends (MinAtar
    Freeway's first end 40k env steps later with 16 envs): a line then says so, not NaN."""

    def __init__(self, size: int = 10):
        self._returns = collections.deque(maxlen=size)

    def add(self, returns) -> None:
        self._returns.extend(np.atleast_1d(returns).tolist())

    def mean(self) -> float | None:
        return float(np.mean(self._returns)) if self._returns else None

    def __str__(self) -> str:
        if not self._returns:
            return "return - (no episode ended yet)"
        return f"return {self.mean():.1f} (last {len(self._returns)} episodes)"
