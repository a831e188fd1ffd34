"""Fixed datasets for offline RL: recorded from our runs, or Dopamine's DQN Replay files."""

from tfprune_rl.offline.chunk import DatasetError
from tfprune_rl.offline.load import (
    DatasetSpec, dataset_chunks, dataset_format, dataset_spec, load_dataset,
)
from tfprune_rl.offline.recorded import MANIFEST, DatasetRecorder, read_manifest

__all__ = ["MANIFEST", "DatasetError", "DatasetRecorder", "DatasetSpec", "dataset_chunks",
           "dataset_format", "dataset_spec", "load_dataset", "read_manifest"]
