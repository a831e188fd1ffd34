"""TensorBoard scalars for sparsity: per layer, total, and the smallest kept magnitude."""

from typing import Sequence

import tensorflow as tf

from tfprune_rl.pruning.stats import KernelSparsity, total_sparsity


def write_sparsity_summaries(stats: Sequence[KernelSparsity], step: int) -> None:
    """Writes to the default summary writer."""
    tf.summary.scalar("sparsity/total", total_sparsity(stats), step=step)
    for layer in stats:
        tf.summary.scalar(f"sparsity/{layer.name}", layer.sparsity, step=step)
        if layer.threshold is not None:
            tf.summary.scalar(f"threshold/{layer.name}", layer.threshold, step=step)
