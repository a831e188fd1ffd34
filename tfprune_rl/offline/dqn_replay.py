"""The DQN Replay dataset (Agarwal et al. 2020), as Dopamine's replay buffer saves it.

Each checkpoint N of a run's `replay_logs/` directory is a circular buffer of
`$store$_{observation,action,reward,terminal}_ckpt.N.gz` arrays (`np.save`d, gzipped) with
`add_count_ckpt.N.gz` and `invalid_range_ckpt.N.gz`. Slots run in the order they were added,
starting at the cursor (add_count mod capacity) once the buffer has wrapped. Dopamine writes
`stack_size - 1` zero frames after every terminal step, the padding the next episode's first
stacks read, and marks an episode cut by the step limit as terminal too.

Only the rows a window needs are decompressed: a fraction of a checkpoint never costs the
memory of the whole checkpoint.
"""

import glob
import gzip
import os
import re
import zlib

import numpy as np

from tfprune_rl.offline.chunk import Chunk, DatasetError, corrupted

STORE_PREFIX = "$store$_"
STORE_FIELDS = ("observation", "action", "reward", "terminal")
EXTRA_FILES = ("add_count", "invalid_range")


def store_path(directory: str, field: str, suffix: int) -> str:
    return os.path.join(directory, f"{STORE_PREFIX}{field}_ckpt.{suffix}.gz")


def checkpoint_suffixes(directory: str) -> list[int]:
    pattern = re.compile(re.escape(STORE_PREFIX) + r"observation_ckpt\.(\d+)\.gz$")
    names = (os.path.basename(p) for p in glob.glob(os.path.join(directory, "*.gz")))
    return sorted(int(m.group(1)) for m in map(pattern.match, names) if m)


def dqn_replay_chunks(directory: str, stack_size: int) -> list[Chunk]:
    """One chunk per checkpoint; every checkpoint's six files must exist before any is read."""
    suffixes = checkpoint_suffixes(directory)
    for suffix in suffixes:
        for name in (*(STORE_PREFIX + field for field in STORE_FIELDS), *EXTRA_FILES):
            path = os.path.join(directory, f"{name}_ckpt.{suffix}.gz")
            if not os.path.isfile(path):
                raise DatasetError(f"dataset file {path} is missing (DQN Replay checkpoint "
                                   f"{suffix} needs it)")
    return [_chunk(directory, suffix, stack_size) for suffix in suffixes]


def _chunk(directory: str, suffix: int, stack_size: int) -> Chunk:
    add_count_path = os.path.join(directory, f"add_count_ckpt.{suffix}.gz")
    try:
        with gzip.open(add_count_path) as f:
            add_count = int(np.load(f, allow_pickle=False))
    except (OSError, ValueError, EOFError, zlib.error) as error:
        raise corrupted(add_count_path, error) from None
    capacity = _header(store_path(directory, "observation", suffix))[0][0]
    for field in STORE_FIELDS[1:]:
        if _header(store_path(directory, field, suffix))[0] != (capacity,):
            raise DatasetError(f"dataset file {store_path(directory, field, suffix)} does not "
                               f"hold {capacity:,} rows, as the observations do")
    length = min(add_count, capacity)
    first = add_count % capacity if add_count >= capacity else 0

    def read(start: int, stop: int):
        physical = (first + np.arange(start, stop)) % capacity
        store = {field: _read_rows(store_path(directory, field, suffix), physical)
                 for field in STORE_FIELDS}
        yield as_rows(store, stack_size)

    return Chunk(f"checkpoint {suffix}", length, read)


def as_rows(store: dict[str, np.ndarray], stack_size: int) -> dict[str, np.ndarray]:
    """Dopamine slots in added order as replay rows.

    Slots before the window's first terminal belong to an episode that began earlier: they get
    episode steps from `stack_size - 1` on, so the first `stack_size - 1` are never a
    transition's start (their stacks would reach before the window). A terminal step's padding
    slots are its episode's final rows, so the next episode starts at step 0 on zero frames.
    """
    terminal = store["terminal"].astype(bool)
    count = len(terminal)
    index = np.arange(count)
    ends = np.flatnonzero(terminal)
    # Episode starts: one before the window, then after each terminal slot and its padding.
    starts = np.concatenate([[1 - stack_size], ends + stack_size])
    episode_start = starts[np.searchsorted(starts, index, side="right") - 1]
    final = np.zeros(count, bool)
    for offset in range(1, stack_size):
        final[(ends + offset)[ends + offset < count]] = True
    return {
        "observation": store["observation"],
        "action": store["action"].astype(np.int32),
        "reward": store["reward"].astype(np.float32),
        "terminated": terminal,
        "truncated": np.zeros(count, bool),
        "final": final,
        "episode_step": (index - episode_start).astype(np.int32),
    }


def _header(path: str) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, offset of the data) of the .npy array in gzipped `path`."""
    try:
        with gzip.open(path) as f:
            version = np.lib.format.read_magic(f)
            shape, fortran_order, dtype = (np.lib.format.read_array_header_1_0(f)
                                           if version == (1, 0)
                                           else np.lib.format.read_array_header_2_0(f))
            offset = f.tell()
    except (OSError, ValueError, EOFError, zlib.error) as error:
        raise corrupted(path, error) from None
    if fortran_order or dtype.hasobject:
        raise DatasetError(f"dataset file {path} holds a {dtype} array in Fortran order "
                           "or of objects; DQN Replay arrays are C-ordered numbers")
    return shape, dtype, offset


def _read_rows(path: str, physical: np.ndarray) -> np.ndarray:
    """Rows `physical` (ascending, except for one wrap back to 0) of the array in `path`,
    reading forward through the gzip stream only as far as they go."""
    shape, dtype, offset = _header(path)
    row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
    pieces = np.split(physical, np.flatnonzero(np.diff(physical) != 1) + 1)
    out = []
    try:
        with gzip.open(path) as f:
            for piece in sorted(pieces, key=lambda p: p[0]):
                f.seek(offset + int(piece[0]) * row_bytes)
                data = f.read(len(piece) * row_bytes)
                if len(data) != len(piece) * row_bytes:
                    raise EOFError(f"ends before row {int(piece[-1]):,}")
                out.append((piece[0], np.frombuffer(data, dtype).reshape(len(piece), *shape[1:])))
    except (OSError, ValueError, EOFError, zlib.error) as error:
        raise corrupted(path, error) from None
    by_start = dict(out)
    return np.concatenate([by_start[piece[0]] for piece in pieces])
