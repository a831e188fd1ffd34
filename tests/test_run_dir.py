import os

import pytest

from tfprune_rl.lifecycle.run_dir import claim_run_dir, read_flagfile

FLAGS = {"env": "CartPole-v1", "width": "4", "sparsity": "0.95"}


def test_new_run_writes_a_reusable_flagfile(tmp_path):
    root_dir = str(tmp_path / "run")
    claim_run_dir(root_dir, FLAGS)
    assert read_flagfile(str(tmp_path / "run" / "flags.txt")) == {"root_dir": root_dir, **FLAGS}


def test_same_flags_resume(tmp_path):
    claim_run_dir(str(tmp_path), FLAGS)
    claim_run_dir(str(tmp_path), dict(FLAGS))


def test_a_moved_run_directory_still_resumes(tmp_path):
    claim_run_dir(str(tmp_path / "old"), FLAGS)
    os.rename(tmp_path / "old", tmp_path / "new")
    claim_run_dir(str(tmp_path / "new"), FLAGS)
    with pytest.raises(ValueError, match="different flags"):
        claim_run_dir(str(tmp_path / "new"), dict(FLAGS, width="2"))


def test_different_flags_are_refused_and_flagfile_kept(tmp_path):
    claim_run_dir(str(tmp_path), FLAGS)
    before = (tmp_path / "flags.txt").read_text()
    with pytest.raises(ValueError, match=r"different flags: --width=2 \(run has 4\)"):
        claim_run_dir(str(tmp_path), dict(FLAGS, width="2"))
    assert (tmp_path / "flags.txt").read_text() == before


def test_a_foreign_non_empty_directory_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="holds no run"):
        claim_run_dir(str(tmp_path), FLAGS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
