"""Where the loop's time goes between two progress lines: the learner call, env stepping, replay."""

import collections
import contextlib
import time


class PhaseTimer:
    """Seconds per named phase since the last `lap`; whatever no phase covered is "other"."""

    def __init__(self):
        self._seconds = collections.defaultdict(float)
        self._lap_start = time.perf_counter()

    @contextlib.contextmanager
    def phase(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self._seconds[name] += time.perf_counter() - start

    def lap(self) -> dict[str, float]:
        now = time.perf_counter()
        seconds = dict(self._seconds)
        seconds["other"] = max(0.0, now - self._lap_start - sum(seconds.values()))
        self._seconds.clear()
        self._lap_start = now
        return seconds
