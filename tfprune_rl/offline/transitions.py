"""Continuous-control datasets in D4RL's layout: flat arrays of transitions.

A file holds `observations`, `actions`, `rewards`, `next_observations`, `terminals` and
`timeouts` (an episode cut by the step limit: not terminal, its last transition still
bootstraps). Read from our `.npz` files (with `manifest.json` beside them holding the random and
expert reference returns), D4RL `.hdf5` files, and Minari dataset directories
(`data/main_data.hdf5`, one group per episode).
"""

import dataclasses
import json
import os
import zipfile

import numpy as np

from tfprune_rl.files import atomic_open
from tfprune_rl.offline.chunk import DatasetError, corrupted

FIELDS = ("observations", "actions", "rewards", "next_observations", "terminals", "timeouts")
MANIFEST = "manifest.json"
FORMAT = "tfprune_rl-d4rl-v1"


@dataclasses.dataclass(frozen=True)
class References:
    """Returns that normalized scores are measured between (D4RL's 0 and 100)."""
    random: float
    expert: float

    def normalize(self, episode_return: float) -> float:
        return 100.0 * (episode_return - self.random) / (self.expert - self.random)


@dataclasses.dataclass(frozen=True)
class Transitions:
    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_observations: np.ndarray
    terminals: np.ndarray
    timeouts: np.ndarray

    def __len__(self) -> int:
        return len(self.rewards)

    def sample(self, batch_size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """A uniform batch, keyed as the agents read it."""
        i = rng.integers(0, len(self), batch_size)
        return {"observation": self.observations[i], "action": self.actions[i],
                "reward": self.rewards[i], "next_observation": self.next_observations[i],
                "terminal": self.terminals[i].astype(np.float32)}

    def episode_returns(self) -> list[float]:
        """Returns of the episodes that end in the data (terminal or timeout)."""
        ends = np.flatnonzero(self.terminals | self.timeouts)
        sums = np.cumsum(self.rewards, dtype=np.float64)
        totals = np.diff(np.concatenate([[0.0], sums[ends]]))
        return [float(t) for t in totals]

    def observation_stats(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std per feature (std at least 1e-3), for state normalization."""
        return (self.observations.mean(0).astype(np.float32),
                np.maximum(self.observations.std(0), 1e-3).astype(np.float32))

    def save(self, path: str) -> None:
        with atomic_open(path, "wb") as f:
            np.savez_compressed(f, **{name: getattr(self, name) for name in FIELDS})


def transitions_from(arrays, path: str) -> Transitions:
    """Checks and converts D4RL-named arrays; `next_observations` may be missing (D4RL v0), and
    is then taken from the next row, dropping each episode's last transition."""
    missing = [name for name in ("observations", "actions", "rewards", "terminals")
               if name not in arrays]
    if missing:
        raise DatasetError(f"dataset {path} lacks {', '.join(missing)}; a D4RL-layout file holds "
                           f"{', '.join(FIELDS)}")
    observations = np.asarray(arrays["observations"], np.float32)
    size = len(observations)
    terminals = np.asarray(arrays["terminals"], bool).reshape(size)
    timeouts = (np.asarray(arrays["timeouts"], bool).reshape(size) if "timeouts" in arrays
                else np.zeros(size, bool))
    actions = np.asarray(arrays["actions"], np.float32).reshape(size, -1)
    rewards = np.asarray(arrays["rewards"], np.float32).reshape(size)
    if "next_observations" in arrays:
        next_observations = np.asarray(arrays["next_observations"], np.float32)
        keep = np.ones(size, bool)
    else:
        next_observations = np.concatenate([observations[1:], observations[-1:]])
        keep = ~timeouts
        keep[-1] = bool(terminals[-1])
    if size == 0 or next_observations.shape != observations.shape:
        raise DatasetError(f"dataset {path} has {size} observations and next observations shaped "
                           f"{next_observations.shape}; expected equal, non-empty arrays")
    return Transitions(observations[keep], actions[keep], rewards[keep], next_observations[keep],
                       terminals[keep], timeouts[keep])


def _minari(path: str, h5py) -> Transitions:
    data_path = os.path.join(path, "data", "main_data.hdf5")
    with h5py.File(data_path, "r") as f:
        episodes = sorted(f, key=lambda name: int(name.rsplit("_", 1)[-1]))
        parts = {name: [] for name in FIELDS}
        for name in episodes:
            episode = f[name]
            observations = np.asarray(episode["observations"], np.float32)
            parts["observations"].append(observations[:-1])
            parts["next_observations"].append(observations[1:])
            parts["actions"].append(np.asarray(episode["actions"]))
            parts["rewards"].append(np.asarray(episode["rewards"]))
            parts["terminals"].append(np.asarray(episode["terminations"], bool))
            parts["timeouts"].append(np.asarray(episode["truncations"], bool))
    return transitions_from({name: np.concatenate(arrays) for name, arrays in parts.items()},
                            data_path)


def load_transitions(path: str) -> tuple[Transitions, References | None]:
    """A `.npz` (ours), `.hdf5` (D4RL) file or a Minari dataset directory, and the references
    from `manifest.json` beside it, if there is one."""
    if not os.path.exists(path):
        raise DatasetError(f"dataset {path} does not exist")
    try:
        if os.path.isdir(path):
            import h5py
            transitions = _minari(path, h5py)
        elif path.endswith(".npz"):
            with np.load(path) as arrays:
                transitions = transitions_from({name: arrays[name] for name in arrays.files}, path)
        elif path.endswith((".hdf5", ".h5")):
            import h5py
            with h5py.File(path, "r") as f:
                transitions = transitions_from({name: f[name][()] for name in f
                                                if name in FIELDS}, path)
        else:
            raise DatasetError(f"dataset {path} is not a .npz or .hdf5 file or a Minari "
                               "directory (with data/main_data.hdf5)")
    except DatasetError:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise corrupted(path, error) from None
    return transitions, read_references(os.path.dirname(os.path.abspath(path)))


def read_references(directory: str) -> References | None:
    path = os.path.join(directory, MANIFEST)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        references = json.load(f).get("reference_returns")
    return References(**references) if references else None
