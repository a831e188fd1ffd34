import numpy as np
import pytest
import tensorflow as tf

from tfprune_rl.pruning import (
    NoUpdates, OneShot, Periodic, PolynomialSchedule, PruningConfig, create_updater, keep_largest,
    masked_kernels,
)


def test_window_is_fractions_of_updates_with_end_on_a_mask_update():
    schedule = PolynomialSchedule(start=0.2, end=0.8, frequency=1000)
    assert schedule.window(2_000_000) == (400_000, 1_600_000)
    assert PolynomialSchedule(frequency=7).window(100) == (20, 76)  # 80 -> 20 + 8 * 7


def test_window_shorter_than_frequency_is_rejected():
    with pytest.raises(ValueError, match="shorter than the pruning frequency 1000"):
        PolynomialSchedule(frequency=1000).window(1000)


@pytest.mark.parametrize("bad", [dict(start=0.9, end=0.8), dict(frequency=0), dict(power=0),
                                 dict(initial_sparsity=1.0)])
def test_invalid_schedule_is_rejected(bad):
    with pytest.raises(ValueError):
        PolynomialSchedule(**bad)


def test_sparsity_follows_the_closed_form_polynomial():
    schedule = PolynomialSchedule(start=0.2, end=0.8, power=3, initial_sparsity=0.1, frequency=10)
    decay = schedule.polynomial_decay(final_sparsity=0.95, total_updates=1000)
    begin, end = 200, 800
    for step in (0, begin, 350, (begin + end) // 2, 790, end, 1000):
        progress = min(max((step - begin) / (end - begin), 0.0), 1.0)
        expected = 0.95 + (0.1 - 0.95) * (1 - progress) ** 3
        assert float(decay(tf.constant(step, tf.int64))[1]) == pytest.approx(expected, abs=1e-6)


def test_masks_change_only_at_multiples_of_frequency_inside_the_window():
    total, frequency = 200, 15
    config = PruningConfig(0.9, total, "uniform", PolynomialSchedule(frequency=frequency))
    updater = create_updater(config)
    layer = tf.keras.layers.Dense(32)
    layer.build((None, 16))
    (wrapper,) = updater.wrap([layer])
    wrapper.build((None, 16))
    (kernel,) = masked_kernels([wrapper])
    rng = np.random.default_rng(0)
    changed_at = []
    begin, end = config.schedule.window(total)
    assert list(updater.update_steps()) == list(range(begin, end + 1, frequency))
    for step in updater.update_steps():
        layer.kernel.assign_add(rng.normal(scale=0.05, size=layer.kernel.shape))
        before = kernel.mask.numpy().copy()
        updater.update([kernel], step)
        if not np.array_equal(before, kernel.mask.numpy()):
            changed_at.append(step)
    assert changed_at == list(range(begin + frequency, end + 1, frequency))
    assert int(np.sum(kernel.mask.numpy() == 0)) == round(0.9 * kernel.mask.numpy().size)


def test_keep_largest_keeps_exactly_the_largest_scores_among_eligible_entries():
    """Against a stable sort by hand: exactly `count` of the eligible entries with the largest
    scores stay, ties to the lower index, eligible zeros counting as 0 and ineligible entries
    below them; all eligible ones when fewer than `count` are eligible."""
    rng = np.random.default_rng(0)
    select = tf.function(keep_largest, jit_compile=True)
    for case in range(24):
        shape = tuple(int(d) for d in rng.integers(1, 30, size=2))
        scores = np.abs(np.round(rng.normal(size=shape), 1 if case % 2 else 6)).astype(np.float32)
        scores[rng.random(shape) < 0.2] = 0.0  # zeros among the kept weights, as ReDo leaves
        eligible = rng.random(shape) < 0.7
        count = int(rng.integers(0, scores.size + 1))
        kept = select(tf.constant(scores), tf.constant(eligible), count).numpy()
        order = np.argsort(-np.where(eligible, scores, -1.0).ravel(), kind="stable")
        expected = np.zeros(scores.size, bool)
        expected[order[:min(count, int(eligible.sum()))]] = True
        np.testing.assert_array_equal(kept.ravel() > 0, expected)


def test_gmp_keeps_the_largest_magnitudes_among_kept_weights_and_records_the_threshold():
    config = PruningConfig(0.5, 10, "uniform", PolynomialSchedule(start=0.0, end=0.1, frequency=1))
    updater = create_updater(config)
    layer = tf.keras.layers.Dense(3)
    layer.build((None, 2))
    (wrapper,) = updater.wrap([layer])
    wrapper.build((None, 2))
    (kernel,) = masked_kernels([wrapper])
    layer.kernel.assign([[0.5, -3.0, 0.1], [2.0, -0.2, 1.0]])
    kernel.mask.assign([[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]])  # -3.0 is pruned: it never returns
    updater.update([kernel], 1)  # step 1 = the end: 50% of 6 -> keep 3
    np.testing.assert_array_equal(kernel.mask.numpy(), [[1, 0, 0], [1, 0, 1]])
    np.testing.assert_array_equal(layer.kernel.numpy(), [[0.5, 0, 0], [2.0, 0, 1.0]])
    assert float(kernel.threshold.numpy()) == 0.5
    assert int(kernel.step.numpy()) == 1


def test_periodic_schedule_steps_and_cosine_drop_fraction():
    schedule = Periodic(frequency=1000, end=0.75, drop_fraction=0.3)
    assert list(schedule.update_steps(10_000)) == list(range(1000, 7500, 1000))
    for step in (0, 1000, 3750, 7000, 7500, 9000):
        expected = 0.15 * (1 + np.cos(np.pi * min(step / 7500, 1.0)))
        assert float(schedule.drop_fraction_at(step, 10_000)) == pytest.approx(expected, abs=1e-6)
    with pytest.raises(ValueError, match="leaves no mask update in 1000 updates"):
        schedule.update_steps(1000)
    assert list(OneShot(0.5).update_steps(301)) == [150]
    assert list(NoUpdates().update_steps(10)) == []
