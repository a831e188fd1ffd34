"""A file written with atomic_open is whole or absent."""

import os

import pytest

from tfprune_rl.files import atomic_open


def test_an_error_mid_write_leaves_the_previous_file(tmp_path):
    path = str(tmp_path / "metrics.json")
    with atomic_open(path) as f:
        f.write("first")
    with pytest.raises(RuntimeError):
        with atomic_open(path) as f:
            f.write("half of the second")
            raise RuntimeError("crash")
    with open(path) as f:
        assert f.read() == "first"
    with atomic_open(path, "wb") as f:
        f.write(b"second")
    with open(path) as f:
        assert f.read() == "second"
    assert os.listdir(tmp_path) == ["metrics.json"]  # no temporary file left
