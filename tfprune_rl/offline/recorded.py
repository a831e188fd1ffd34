"""Datasets recorded from a training run (`--record_dataset`): shards of replay rows and a
manifest.

Rows are copied from the run's replay buffer (see `replay.ROW_FIELDS`: each frame once, raw
rewards, terminations and truncations, each episode's final observation), so the dataset holds
exactly what the agent collected. A stream's new rows are flushed to a shard when there are
`shard_rows` of them and at every checkpoint; the manifest, rewritten after each shard, lists
only complete shards. On resume, shards written after the restored checkpoint are dropped, so
the dataset always matches the run.
"""

import json
import os
import zipfile

import numpy as np

from tfprune_rl.files import atomic_open
from tfprune_rl.offline.chunk import Chunk, DatasetError, corrupted
from tfprune_rl.replay import ROW_FIELDS, ReplayBuffer

MANIFEST = "manifest.json"
FORMAT = "tfprune_rl-dataset-v1"
SHARD_ROWS = 50_000


class DatasetRecorder:
    def __init__(self, directory: str, replay: ReplayBuffer, description: dict,
                 shard_rows: int = SHARD_ROWS):
        """`description` (env, preprocessing) goes into the manifest as it is."""
        self._directory = directory
        self._replay = replay
        self._shard_rows = min(shard_rows, replay.stream_capacity - 2)  # flushed before overwritten
        self._manifest = {"format": FORMAT, **description, "num_streams": replay.num_streams,
                          "shards": []}
        path = os.path.join(directory, MANIFEST)
        if os.path.exists(path):
            with open(path) as f:
                self._manifest["shards"] = json.load(f)["shards"]

    def resume(self, env_step: int) -> None:
        """Drops shards written after `env_step`, whose rows the restored replay buffer holds
        again; the replay buffer must already be restored."""
        shards = self._manifest["shards"]
        self._manifest["shards"] = [s for s in shards if s["env_step"] <= env_step]
        for shard in shards[len(self._manifest["shards"]):]:
            path = os.path.join(self._directory, shard["file"])
            if os.path.exists(path):  # a crash may have come between removing and rewriting
                os.remove(path)
        for stream in range(self._replay.num_streams):
            if self._recorded(stream) != self._replay.added(stream):
                raise DatasetError(
                    f"dataset {self._directory} holds {self._recorded(stream):,} rows of stream "
                    f"{stream}, the restored replay buffer {self._replay.added(stream):,}")
        self._write_manifest(env_step)

    def maybe_flush(self, env_step: int) -> None:
        if any(self._pending(stream) >= self._shard_rows
               for stream in range(self._replay.num_streams)):
            self.flush(env_step)

    def flush(self, env_step: int) -> None:
        os.makedirs(self._directory, exist_ok=True)
        for stream in range(self._replay.num_streams):
            start = self._recorded(stream)
            if self._pending(stream) == 0:
                continue
            rows = self._replay.rows(stream, start, self._replay.added(stream))
            name = f"stream{stream}-{start:012d}.npz"
            path = os.path.join(self._directory, name)
            with atomic_open(path, "wb") as f:
                np.savez_compressed(f, **rows)
            self._manifest["shards"].append({"file": name, "stream": stream, "start": start,
                                             "rows": len(rows["action"]),
                                             "episodes": int(rows["final"].sum()),
                                             "env_step": env_step})
        self._write_manifest(env_step)

    def _recorded(self, stream: int) -> int:
        return sum(s["rows"] for s in self._manifest["shards"] if s["stream"] == stream)

    def _pending(self, stream: int) -> int:
        return self._replay.added(stream) - self._recorded(stream)

    def _write_manifest(self, env_step: int) -> None:
        os.makedirs(self._directory, exist_ok=True)
        shards = self._manifest["shards"]
        episodes = sum(s["episodes"] for s in shards)
        self._manifest.update(env_steps=env_step, rows=sum(s["rows"] for s in shards),
                              transitions=sum(s["rows"] for s in shards) - episodes,
                              episodes=episodes)
        with atomic_open(os.path.join(self._directory, MANIFEST)) as f:
            json.dump(self._manifest, f, indent=2)


def read_manifest(directory: str) -> dict:
    path = os.path.join(directory, MANIFEST)
    try:
        with open(path) as f:
            manifest = json.load(f)
    except (OSError, ValueError) as error:
        raise corrupted(path, error) from None
    if manifest.get("format") != FORMAT:
        raise DatasetError(f"{path} has format {manifest.get('format')!r}; expected {FORMAT!r}")
    return manifest


def recorded_chunks(directory: str) -> list[Chunk]:
    """One chunk per stream; every listed shard must exist before anything is read."""
    manifest = read_manifest(directory)
    for shard in manifest["shards"]:
        path = os.path.join(directory, shard["file"])
        if not os.path.isfile(path):
            raise DatasetError(f"dataset file {path} is missing "
                               f"(listed in {os.path.join(directory, MANIFEST)})")
    chunks = []
    for stream in range(manifest["num_streams"]):
        shards = [s for s in manifest["shards"] if s["stream"] == stream]
        length = sum(s["rows"] for s in shards)
        if length:
            chunks.append(Chunk(f"stream {stream}", length,
                                lambda start, stop, shards=shards: _read(directory, shards,
                                                                         start, stop)))
    return chunks


def _read(directory: str, shards: list[dict], start: int, stop: int):
    for shard in shards:
        first, last = max(start, shard["start"]), min(stop, shard["start"] + shard["rows"])
        if first < last:
            rows = _load_shard(os.path.join(directory, shard["file"]), shard["rows"])
            yield {field: array[first - shard["start"]:last - shard["start"]]
                   for field, array in rows.items()}


def _load_shard(path: str, count: int) -> dict[str, np.ndarray]:
    try:
        with np.load(path) as shard:
            rows = {field: shard[field] for field in ROW_FIELDS}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise corrupted(path, error) from None
    if any(len(array) != count for array in rows.values()):
        raise DatasetError(f"dataset file {path} does not hold the {count:,} rows its "
                           "manifest lists")
    return rows
