import numpy as np
import pytest

from tfprune_rl.replay import UniformReplay


def _filled(capacity=5, added=8, seed=0):
    replay = UniformReplay(capacity, (2,), np.float32, seed=seed)
    for i in range(added):
        replay.add(np.full(2, i), i, float(i), 1.0, np.full(2, i + 1))
    return replay


def test_keeps_the_latest_transitions_when_full():
    replay = _filled(capacity=5, added=8)
    assert len(replay) == 5
    batch = replay.sample(200)
    assert set(batch["action"].tolist()) == {3, 4, 5, 6, 7}
    np.testing.assert_array_equal(batch["next_observation"][:, 0], batch["action"] + 1)


def test_saved_buffer_resumes_with_the_same_data_and_samples(tmp_path):
    replay = _filled()
    path = str(tmp_path / "replay.npz")
    replay.save(path)
    restored = UniformReplay(5, (2,), np.float32, seed=123)
    restored.load(path)
    assert len(restored) == len(replay)
    expected, actual = replay.sample(16), restored.sample(16)
    for field, values in expected.items():
        np.testing.assert_array_equal(values, actual[field])
    assert [p.name for p in tmp_path.iterdir()] == ["replay.npz"]


def test_loading_a_buffer_of_another_shape_is_rejected(tmp_path):
    path = str(tmp_path / "replay.npz")
    _filled().save(path)
    with pytest.raises(ValueError, match="expected"):
        UniformReplay(6, (2,), np.float32, seed=0).load(path)


def test_sampling_an_empty_buffer_is_rejected():
    with pytest.raises(ValueError, match="empty"):
        UniformReplay(5, (2,), np.float32, seed=0).sample(1)
