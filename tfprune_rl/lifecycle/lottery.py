"""A lottery ticket's source (`--mask_from=RUN_DIR`): a finished pruned run's seed, with which
the ticket's networks are built (so they start at that run's initialization), and its final
masks, read from its latest checkpoint."""

import json
import os
from typing import Callable

import numpy as np
import tensorflow as tf

from tfprune_rl import pruning
from tfprune_rl.lifecycle.run_dir import checkpoint_path, checkpoint_steps


def source_seed(run_dir: str) -> int:
    """The seed the run in `run_dir` built its networks with; it must have finished."""
    path = os.path.join(run_dir, "metrics.json")
    if not os.path.isfile(path):
        raise ValueError(f"mask_from={run_dir} is not a finished run (no metrics.json); the "
                         "lottery ticket takes a finished run's final masks")
    with open(path) as f:
        return int(json.load(f)["seed"])


def source_masks(run_dir: str, networks: dict, agent_view: Callable[[dict], dict]
                 ) -> dict[str, list[np.ndarray]]:
    """The final masks of copies of `networks` ({name: network}), read from the run's latest
    checkpoint; `agent_view(copies)` gives them the attributes the run's checkpointed agent
    holds them by."""
    copies = {name: network.copy() for name, network in networks.items()}
    step = checkpoint_steps(os.path.join(run_dir, "checkpoints"))[-1]
    path = checkpoint_path(os.path.join(run_dir, "checkpoints"), step)
    try:
        tf.train.Checkpoint(agent=tf.train.Checkpoint(**agent_view(copies))).read(
            path).expect_partial().assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as error:
        raise ValueError(f"mask_from={run_dir}: its checkpoint does not fit this run's networks "
                         "(a lottery ticket needs the same env, agent, network, sparsity and "
                         f"distribution): {str(error).splitlines()[0]}") from None
    return {name: [k.mask.numpy() for k in pruning.masked_kernels(copy.stack)]
            for name, copy in copies.items()}
