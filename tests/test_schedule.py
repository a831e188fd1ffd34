import numpy as np
import pytest
import tensorflow as tf

from tfprune_rl.pruning import GradualSchedule, PruningConfig, pruning_wrappers, update_masks
from tfprune_rl.pruning.wrap import _prune


def test_window_is_fractions_of_updates_with_end_on_a_mask_update():
    schedule = GradualSchedule(start=0.2, end=0.8, frequency=1000)
    assert schedule.update_steps(2_000_000) == (400_000, 1_600_000)
    assert GradualSchedule(frequency=7).update_steps(100) == (20, 76)  # 80 -> 20 + 8 * 7


def test_window_shorter_than_frequency_is_rejected():
    with pytest.raises(ValueError, match="shorter than the pruning frequency 1000"):
        GradualSchedule(frequency=1000).update_steps(1000)


@pytest.mark.parametrize("bad", [dict(start=0.9, end=0.8), dict(frequency=0), dict(power=0),
                                 dict(initial_sparsity=1.0)])
def test_invalid_schedule_is_rejected(bad):
    with pytest.raises(ValueError):
        GradualSchedule(**bad)


def test_sparsity_follows_the_closed_form_polynomial():
    schedule = GradualSchedule(start=0.2, end=0.8, power=3, initial_sparsity=0.1, frequency=10)
    decay = schedule.polynomial_decay(final_sparsity=0.95, total_updates=1000)
    begin, end = 200, 800
    for step in (0, begin, 350, (begin + end) // 2, 790, end, 1000):
        progress = min(max((step - begin) / (end - begin), 0.0), 1.0)
        expected = 0.95 + (0.1 - 0.95) * (1 - progress) ** 3
        assert float(decay(tf.constant(step, tf.int64))[1]) == pytest.approx(expected, abs=1e-6)


def test_masks_change_only_at_multiples_of_frequency_inside_the_window():
    total, frequency = 200, 15
    config = PruningConfig(0.9, total, "uniform", GradualSchedule(frequency=frequency))
    layer = tf.keras.layers.Dense(32)
    layer.build((None, 16))
    (wrapper,) = pruning_wrappers(config.wrap([layer]))
    wrapper.build((None, 16))
    rng = np.random.default_rng(0)
    masks, changed_at = wrapper.pruning_vars[0][1], []
    for step in range(1, total + 1):
        layer.kernel.assign_add(rng.normal(scale=0.05, size=layer.kernel.shape))
        before = masks.numpy().copy()
        update_masks([wrapper], step)
        if not np.array_equal(before, masks.numpy()):
            changed_at.append(step)
    begin, end = config.schedule.update_steps(total)
    assert changed_at == list(range(begin + frequency, end + 1, frequency))
    assert int(np.sum(masks.numpy() == 0)) == round(0.9 * masks.numpy().size)
    assert list(config.mask_update_steps()) == list(range(begin, end + 1, frequency))


def test_a_mask_update_keeps_exactly_the_largest_magnitudes_among_kept_weights():
    """Against a stable sort by hand: among the weights the mask keeps, exactly round(size x
    (1 - sparsity)) with the largest |w| stay, ties to the lower index, kept zeros counting as
    magnitude 0 and pruned weights below them; the threshold is the last kept magnitude."""
    rng = np.random.default_rng(0)
    for case in range(24):
        shape = tuple(int(d) for d in rng.integers(1, 30, size=2))
        weights = np.round(rng.normal(size=shape), 1 if case % 2 else 6).astype(np.float32)
        weights[rng.random(shape) < 0.2] = 0.0  # zeros among the kept weights, as ReDo leaves
        mask = (rng.random(shape) < 0.7).astype(np.float32)
        mask.flat[0] = 1.0
        sparsity = float(rng.uniform(0.3, 0.99))
        kernel, mask_variable, threshold = (tf.Variable(weights), tf.Variable(mask),
                                            tf.Variable(0.0))
        tf.function(lambda *args: _prune(*args) and None, jit_compile=True)(
            kernel, mask_variable, threshold, tf.constant(sparsity))
        keep = max(round(weights.size * (1 - sparsity)), 1)
        if keep > mask.sum():  # a rising schedule never asks for more than the mask keeps
            continue
        score = np.where(mask > 0, np.abs(weights), -1.0).ravel()
        expected = np.zeros(weights.size, bool)
        expected[np.argsort(-score, kind="stable")[:keep]] = True
        np.testing.assert_array_equal(mask_variable.numpy().ravel() > 0, expected)
        assert threshold.numpy() == np.sort(score)[::-1][keep - 1]
