"""Fixed datasets into a replay buffer that the offline loop samples like the online one.

Each chunk of a dataset (a recorded run's env stream, a DQN Replay checkpoint) becomes one
stream of the buffer, so frames are stored once and episodes never run across chunks. With
`fraction` < 1, each chunk keeps one contiguous window of that fraction of its rows, at a
seeded random offset: memory is `fraction` times the whole dataset's, plus one file's window
while it is read.
"""

import dataclasses
import os

import gymnasium as gym
import numpy as np

from tfprune_rl.envs import frame_stack_size
from tfprune_rl.offline.chunk import Chunk, DatasetError
from tfprune_rl.offline.dqn_replay import checkpoint_suffixes, dqn_replay_chunks
from tfprune_rl.offline.recorded import MANIFEST, read_manifest, recorded_chunks
from tfprune_rl.replay import ReplayBuffer


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """What the run expects of its dataset."""
    env_id: str
    observation_shape: tuple[int, ...]
    observation_dtype: np.dtype
    stack_size: int
    num_actions: int


def dataset_spec(env_id: str, env: gym.Env) -> DatasetSpec:
    space = env.observation_space
    return DatasetSpec(env_id, space.shape, space.dtype, frame_stack_size(env_id),
                       int(env.action_space.n))


def dataset_format(path: str) -> str:
    if os.path.isfile(os.path.join(path, MANIFEST)):
        return "recorded"
    if os.path.isdir(path) and checkpoint_suffixes(path):
        return "dqn_replay"
    raise DatasetError(f"dataset {path} holds neither a {MANIFEST} (a dataset recorded with "
                       "--record_dataset) nor DQN Replay files ($store$_observation_ckpt.<N>.gz)")


def dataset_chunks(path: str, spec: DatasetSpec) -> list[Chunk]:
    """The dataset's chunks, after the checks that need no more than its headers: a bad path
    or a missing file fails here, before a run starts."""
    if dataset_format(path) == "recorded":
        manifest = read_manifest(path)
        if manifest["env_id"] != spec.env_id:
            raise DatasetError(f"dataset {path} was recorded on {manifest['env_id']}; this "
                               f"run's env is {spec.env_id}")
        chunks = recorded_chunks(path)
    else:
        chunks = dqn_replay_chunks(path, spec.stack_size)
    if not chunks:
        raise DatasetError(f"dataset {path} holds no rows")
    return chunks


def load_dataset(path: str, spec: DatasetSpec, fraction: float, seed: int, n_step: int,
                 gamma: float, clip_rewards: bool) -> tuple[ReplayBuffer, dict]:
    """The dataset at `path` as a uniform replay buffer, and a summary of what was loaded.
    `fraction` is in (0, 1] (`TrainConfig` checks it)."""
    chunks = dataset_chunks(path, spec)
    rng = np.random.default_rng(seed)
    shortest = n_step + spec.stack_size + 1  # rows of the shortest transition the buffer takes
    windows = []
    for chunk in chunks:
        size = min(chunk.length, max(shortest, round(fraction * chunk.length)))
        start = int(rng.integers(0, chunk.length - size + 1))
        windows.append((chunk, start, start + size))
    stream_capacity = max(stop - start for _, start, stop in windows)
    if stream_capacity < shortest:
        raise DatasetError(f"dataset {path} holds {stream_capacity} rows in its longest chunk; "
                           f"n_step={n_step} needs at least {shortest}")
    replay = ReplayBuffer(
        stream_capacity * len(windows), spec.observation_shape, spec.observation_dtype, seed,
        stack_size=spec.stack_size, n_step=n_step, gamma=gamma, num_streams=len(windows),
        clip_rewards=clip_rewards)
    episodes = 0
    for stream, (chunk, start, stop) in enumerate(windows):
        for rows in chunk.read(start, stop):
            _check_rows(path, chunk, rows, spec, replay.frame_shape)
            replay.extend(stream, rows)
            episodes += int(np.sum((rows["terminated"] | rows["truncated"]) & ~rows["final"]))
    summary = {"path": os.path.abspath(path), "format": dataset_format(path),
               "fraction": fraction, "chunks": len(windows), "rows": len(replay),
               "episodes": episodes, "bytes": replay.nbytes}
    return replay, summary


def _check_rows(path: str, chunk: Chunk, rows: dict, spec: DatasetSpec,
                frame_shape: tuple[int, ...]) -> None:
    if rows["observation"].shape[1:] != frame_shape:
        raise DatasetError(f"dataset {path} ({chunk.name}) has frames of shape "
                           f"{rows['observation'].shape[1:]}; this run's env needs {frame_shape}")
    actions = rows["action"][~rows["final"]]
    if actions.size and not 0 <= actions.min() <= actions.max() < spec.num_actions:
        raise DatasetError(f"dataset {path} ({chunk.name}) has actions in "
                           f"[{actions.min()}, {actions.max()}]; this run's env has "
                           f"{spec.num_actions} (0 to {spec.num_actions - 1})")
