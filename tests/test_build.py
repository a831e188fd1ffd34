"""BUILD stays in step with the code: every .py file is in exactly one target's srcs."""

import os
import re

from conftest import REPO_ROOT


def _build_srcs() -> list[str]:
    with open(os.path.join(REPO_ROOT, "BUILD")) as f:
        build = f.read()
    blocks = re.findall(r"srcs = \[([^\]]*)\]", build)
    return [src for block in blocks for src in re.findall(r'"([^"]+)"', block)]


def _python_files() -> set[str]:
    found = set()
    for top in ("tfprune_rl", "tests", "tools"):
        for directory, _, files in os.walk(os.path.join(REPO_ROOT, top)):
            for name in files:
                if name.endswith(".py"):
                    found.add(os.path.relpath(os.path.join(directory, name), REPO_ROOT))
    return found


def test_every_module_and_test_file_has_exactly_one_target():
    srcs = _build_srcs()
    assert sorted(set(srcs)) == sorted(srcs), "a file is in more than one target"
    assert set(srcs) == _python_files()
