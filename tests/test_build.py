"""BUILD stays in step with the code: it is what tools/build_file.py writes from the imports,
so a module without a target, or a dep that no import needs or that an import lacks, fails."""

import os

from conftest import REPO_ROOT
from tools.build_file import build_file, imported_files, python_files, target_name


def test_build_is_written_from_the_imports():
    with open(os.path.join(REPO_ROOT, "BUILD")) as f:
        assert f.read() == build_file(), "BUILD is stale: run python tools/build_file.py"


def test_a_dep_comes_from_an_import_a_lazy_reference_or_a_lazy_export():
    files = set(python_files())
    deps = imported_files("tfprune_rl/value_based/config.py", files)
    assert "tfprune_rl/value_based/augmentation.py" in deps  # from ... import AUGMENTATIONS
    assert "tfprune_rl/settings.py" in deps
    registry = imported_files("tfprune_rl/pruning/api.py", files)
    assert "tfprune_rl/pruning/algorithms/gmp.py" in registry  # "module:Class" in METHODS
    package = imported_files("tfprune_rl/envs/__init__.py", files)
    assert "tfprune_rl/envs/factory.py" in package  # exports(__name__, {"factory": ...})
    assert target_name("tfprune_rl/pruning/__init__.py") == "pruning"
    assert target_name("tests/test_build.py") == "test_build"
