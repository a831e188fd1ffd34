"""What a run writes to TensorBoard, and under which tag.

TensorBoard orders tag groups by name, so each group's name starts with its rank: a run opens
on return, sparsity and loss, and the plasticity diagnostics follow together. Mask images,
kept-weight histograms and evaluation videos are made on the host, between training steps.
"""

import glob
import io
import os
from typing import Callable, Mapping, Sequence

import numpy as np
import tensorflow as tf
from PIL import Image
from tensorboard.plugins.hparams import api as hparams_api
from tensorboard.plugins.histogram import metadata as histogram_metadata
from tensorboard.plugins.image import metadata as image_metadata

from tfprune_rl import pruning, video
from tfprune_rl.files import temporary_path

GROUPS = ("return", "sparsity", "loss", "diagnostics", "weights", "threshold", "train",
          "time_fraction")
MASK_IMAGE_SIDE = 256  # a mask image's longest side at most; larger kernels are sampled
MASK_IMAGE_MIN_SIDE = 64  # thinner kernels are drawn with square blocks this many pixels wide
HISTOGRAM_BUCKETS = 30  # as TensorFlow's histogram summaries


def tag(group: str, name: str) -> str:
    """`group`'s rank, group and name: tag("return", "eval") is "1_return/eval"."""
    return f"{GROUPS.index(group) + 1}_{group}/{name}"


def scalar(group: str, name: str, value: float, step: int) -> None:
    tf.summary.scalar(tag(group, name), value, step=step)


def sparsity_scalars(stats: Sequence[pruning.KernelSparsity], step: int) -> None:
    """Each layer's sparsity and last pruning threshold, and the network's total."""
    scalar("sparsity", "total", pruning.total_sparsity(stats), step)
    for layer in stats:
        scalar("sparsity", layer.name, layer.sparsity, step)
        if layer.threshold is not None:
            scalar("threshold", layer.name, layer.threshold, step)


HPARAM_METRICS = (tag("return", "eval"), tag("sparsity", "total"))


def write_hparams(values: Mapping[str, bool | int | float | str]) -> None:
    """The run's configuration to the HParams dashboard, with its final evaluation return and
    sparsity as the metrics, so that a sweep root can be sorted and filtered by any flag."""
    hparams_api.hparams_config(
        hparams=[hparams_api.HParam(name) for name in values],
        metrics=[hparams_api.Metric(name) for name in HPARAM_METRICS])
    hparams_api.hparams(dict(values))


def mask_image(kernel: np.ndarray) -> np.ndarray:
    """The kept weights of `kernel` as a black and white image: white is kept.

    Rows are the kernel's inputs (a convolution's height, width and input channels flattened)
    and columns its outputs. A side longer than MASK_IMAGE_SIDE shows MASK_IMAGE_SIDE evenly
    spaced rows (or columns): averaging blocks of a 95% sparse kernel comes out nearly black,
    while a sample keeps single weights visible, and dense or empty rows and columns, and the
    zero fraction, stay those of the kernel.
    """
    kept = kernel.reshape(-1, kernel.shape[-1]) != 0
    rows, columns = (np.linspace(0, size - 1, min(size, MASK_IMAGE_SIDE)).round().astype(int)
                     for size in kept.shape)
    kept = kept[np.ix_(rows, columns)]
    scale = max(1, min(MASK_IMAGE_MIN_SIDE // min(kept.shape),
                       MASK_IMAGE_SIDE // max(kept.shape)))
    kept = kept.repeat(scale, axis=0).repeat(scale, axis=1)
    return np.where(kept, 255, 0).astype(np.uint8)[..., np.newaxis]


def histogram(name: str, values: np.ndarray, step: int) -> None:
    """TensorBoard's histogram of `values` in HISTOGRAM_BUCKETS equal buckets, counted by NumPy:
    TensorFlow's own summary op takes 4 s on a Nature width-3 kernel's 14.4M weights, NumPy
    0.3 s."""
    counts, edges = np.histogram(values, bins=HISTOGRAM_BUCKETS)
    tf.summary.write(name, tf.constant(np.stack([edges[:-1], edges[1:], counts], axis=1)),
                     step=step, metadata=histogram_metadata.create_summary_metadata(
                         display_name=None, description=None))


class KernelSummaries:
    """Histograms of each layer's kept weights and, when its masks changed since the last ones,
    images of each pruned kernel's mask."""

    def __init__(self, networks: Mapping[str, tf.keras.Model]):
        self.networks = networks
        self.last_masks = {}

    def write(self, step: int) -> None:
        for network, model in self.networks.items():
            prefix = f"{network}/" if len(self.networks) > 1 else ""
            for layer, inner in zip(model.stack, pruning.strip(model.stack)):
                if not hasattr(inner, "kernel"):
                    continue
                kernel = inner.kernel.numpy()
                name = f"{prefix}{inner.name}"
                histogram(tag("weights", name), kernel[kernel != 0], step)
                if not pruning.masked_kernels([layer]):
                    continue
                masks = np.packbits(kernel != 0)
                if not np.array_equal(masks, self.last_masks.get(name)):
                    self.last_masks[name] = masks
                    tf.summary.image(tag("sparsity", f"mask/{name}"),
                                     mask_image(kernel)[np.newaxis], step=step)


def keep_events(log_dir: str, predicate: Callable[[tf.compat.v1.Event], bool]) -> None:
    """Rewrites `log_dir`'s event files without the events `predicate` rejects: those a resumed
    run writes again. TensorBoard would draw both, as it drops a restart's out-of-order steps
    only from TF1's event files."""
    for path in glob.glob(os.path.join(log_dir, "events.out.tfevents.*")):
        records = []
        try:
            records.extend(record.numpy() for record in tf.data.TFRecordDataset(path))
        except tf.errors.DataLossError:  # a last record cut short by a kill: the file ends there
            pass
        kept = [record for record in records
                if predicate(tf.compat.v1.Event.FromString(record))]
        if len(kept) == len(records):
            continue
        tmp_path = temporary_path(path)
        with tf.io.TFRecordWriter(tmp_path) as writer:
            for record in kept:
                writer.write(record)
        os.replace(tmp_path, path)


def is_evaluation(event: tf.compat.v1.Event) -> bool:
    return any(value.tag.startswith(tag("return", "eval")) for value in event.summary.value)


def video_summary(name: str, frames: Sequence[np.ndarray], step: int) -> None:
    """An animated GIF in the images dashboard (TensorBoard shows GIFs, not MP4s)."""
    gif = video.gif_bytes(frames)
    width, height = Image.open(io.BytesIO(gif)).size
    tf.summary.write(
        tag("return", name), tf.constant([str(width), str(height), gif]), step=step,
        metadata=image_metadata.create_summary_metadata(
            display_name=None, description="The first episode of an evaluation."))
