"""A sum tree over priorities: set and proportional sampling in O(log n), vectorised over a batch."""

import numpy as np


class SumTree:
    """Leaves hold priorities; each inner node holds the sum of its two children.

    Stored as one array: the root at 1, the children of node i at 2i and 2i+1, and the leaves
    at [leaf_offset, leaf_offset + capacity).
    """

    def __init__(self, capacity: int):
        self.leaf_offset = 1 << max(0, int(np.ceil(np.log2(capacity))))
        self.capacity = capacity
        self.nodes = np.zeros(2 * self.leaf_offset, np.float64)
        self.max_priority = 1.0

    @property
    def total(self) -> float:
        return float(self.nodes[1])

    def get(self, indices: np.ndarray) -> np.ndarray:
        return self.nodes[self.leaf_offset + np.asarray(indices)]

    def set(self, indices, priorities) -> None:
        indices = np.atleast_1d(np.asarray(indices, np.int64))
        priorities = np.atleast_1d(np.asarray(priorities, np.float64))
        if np.any(priorities < 0) or not np.all(np.isfinite(priorities)):
            raise ValueError(f"priorities must be finite and >= 0, got {priorities}")
        nodes = self.leaf_offset + indices
        self.nodes[nodes] = priorities
        if priorities.size:
            self.max_priority = max(self.max_priority, float(priorities.max()))
        nodes = np.unique(nodes // 2)
        while nodes[0] >= 1:
            self.nodes[nodes] = self.nodes[2 * nodes] + self.nodes[2 * nodes + 1]
            nodes = np.unique(nodes // 2)

    def find(self, values: np.ndarray) -> np.ndarray:
        """Leaf index of each value in [0, total): where the prefix sum of priorities passes it."""
        values = np.array(values, np.float64)
        nodes = np.ones(values.shape, np.int64)
        while nodes[0] < self.leaf_offset:
            left = self.nodes[2 * nodes]
            go_right = values >= left
            values = np.where(go_right, values - left, values)
            nodes = 2 * nodes + go_right
        return np.minimum(nodes - self.leaf_offset, self.capacity - 1)

    def stratified_sample(self, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        """One leaf from each of `batch_size` equal slices of the total (lower variance)."""
        if self.total <= 0:
            raise ValueError("cannot sample: every priority is 0")
        bounds = np.linspace(0.0, self.total, batch_size + 1)
        return self.find(rng.uniform(bounds[:-1], bounds[1:]))
