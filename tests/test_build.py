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


def _room(path: str) -> str:
    parts = path.split("/")
    if parts[0] != "tfprune_rl":
        return parts[0]
    if len(parts) == 2:
        return "commands" if parts[1].endswith("_cli.py") or parts[1] in (
            "train.py", "train_continuous.py", "entry_points.py") else "parts"
    return parts[1] if parts[1] in RANKS else "parts"


# Rooms by rank: a module imports only rooms of its rank or lower ("parts" is the rest).
RANKS = {"tests": 5, "tools": 5, "commands": 4, "sweeps": 3, "analysis": 3, "value_based": 2,
         "continuous": 2, "lifecycle": 1, "parts": 0}


def test_imports_go_down_the_rooms_and_never_in_a_circle():
    files = set(python_files())
    graph = {path: imported_files(path, files) for path in files}
    upward = [(path, dep) for path, deps in graph.items() for dep in deps
              if RANKS[_room(dep)] > RANKS[_room(path)]
              or {_room(path), _room(dep)} == {"value_based", "continuous"}]
    assert not upward
    done, on_path = set(), []

    def visit(path):  # depth-first: a module met again on the current path closes a circle
        assert path not in on_path, " -> ".join(on_path[on_path.index(path):] + [path])
        if path not in done:
            on_path.append(path)
            for dep in sorted(graph[path]):
                visit(dep)
            on_path.pop()
            done.add(path)

    for path in sorted(graph):
        visit(path)
