"""A dataset as contiguous chunks of replay rows: each becomes one stream of a replay buffer."""

import dataclasses
from typing import Callable, Iterator

import numpy as np

Rows = dict[str, np.ndarray]  # replay.ROW_FIELDS -> arrays of equal length


@dataclasses.dataclass(frozen=True)
class Chunk:
    """`length` rows in episode order; `read(start, stop)` yields rows [start, stop) in pieces."""
    name: str
    length: int
    read: Callable[[int, int], Iterator[Rows]]


class DatasetError(ValueError):
    """A dataset file that is missing, corrupted, or does not fit the run."""


def corrupted(path: str, error: Exception) -> DatasetError:
    return DatasetError(f"dataset file {path} is corrupted or truncated "
                        f"({type(error).__name__}: {error})")
