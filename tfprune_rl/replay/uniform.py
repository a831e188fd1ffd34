"""A circular buffer of transitions with uniform sampling.

Kept in numpy, outside the TensorFlow graph, so it can be saved whole with its random state:
a resumed run samples from the same data with the same generator.
"""

import json
import os
from typing import Mapping

import numpy as np

FIELDS = ("observation", "action", "reward", "discount", "next_observation")


class UniformReplay:
    def __init__(self, capacity: int, observation_shape, observation_dtype, seed: int):
        if capacity < 1:
            raise ValueError(f"replay capacity={capacity} must be >= 1")
        self.capacity = capacity
        self._data = {
            "observation": np.zeros((capacity, *observation_shape), observation_dtype),
            "action": np.zeros((capacity,), np.int64),
            "reward": np.zeros((capacity,), np.float32),
            "discount": np.zeros((capacity,), np.float32),
            "next_observation": np.zeros((capacity, *observation_shape), observation_dtype),
        }
        self._added = 0
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return min(self._added, self.capacity)

    def add(self, observation, action, reward, discount, next_observation) -> None:
        """`discount` is 0 where the episode terminated, 1 otherwise (truncation included)."""
        i = self._added % self.capacity
        values = (observation, action, reward, discount, next_observation)
        for field, value in zip(FIELDS, values):
            self._data[field][i] = value
        self._added += 1

    def sample(self, batch_size: int) -> dict[str, np.ndarray]:
        if len(self) == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        indices = self._rng.integers(0, len(self), size=batch_size)
        return {field: values[indices] for field, values in self._data.items()}

    def save(self, path: str) -> None:
        """Writes `path` atomically: a temporary file in the same directory, then a rename."""
        tmp_path = f"{path}.tmp-{os.getpid()}"
        with open(tmp_path, "wb") as f:
            np.savez(f, added=self._added, rng=json.dumps(self._rng.bit_generator.state), **self._data)
        os.replace(tmp_path, path)

    def load(self, path: str) -> None:
        with np.load(path) as saved:
            self._check_layout(saved)
            for field in FIELDS:
                self._data[field][...] = saved[field]
            self._added = int(saved["added"])
            self._rng.bit_generator.state = json.loads(str(saved["rng"]))

    def _check_layout(self, saved: Mapping[str, np.ndarray]) -> None:
        for field in FIELDS:
            if saved[field].shape != self._data[field].shape:
                raise ValueError(
                    f"replay file holds {field} of shape {saved[field].shape}, "
                    f"expected {self._data[field].shape}"
                )
