"""The installed dependency set: every module of the package and every TF-Agents module it uses
imports; pip check reports only the conflicts tools/check_dependencies.py explains; and the
commands parse and check their flags without importing TensorFlow."""

import ast
import importlib
import os
import pkgutil
import subprocess
import sys

import pytest

import tfprune_rl
from conftest import REPO_ROOT

COMMANDS = ("train", "train_continuous", "datasets_cli", "export_cli", "inspect_cli",
            "sweep_cli", "aggregate_cli", "plot_cli", "play_cli")


def _package_modules() -> list[str]:
    return sorted(module.name for module in
                  pkgutil.walk_packages(tfprune_rl.__path__, "tfprune_rl."))


def _tf_agents_modules() -> list[str]:
    """Every tf_agents module named by an import in the package or tools/."""
    names = set()
    for top in ("tfprune_rl", "tools"):
        for directory, _, files in os.walk(os.path.join(REPO_ROOT, top)):
            for file in (f for f in files if f.endswith(".py")):
                with open(os.path.join(directory, file)) as f:
                    tree = ast.parse(f.read())
                for node in ast.walk(tree):
                    if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                            "tf_agents"):
                        names.add(node.module)
                        names.update(f"{node.module}.{alias.name}" for alias in node.names)
                    elif isinstance(node, ast.Import):
                        names.update(a.name for a in node.names if a.name.startswith("tf_agents"))
    return sorted(name for name in names if _is_module(name))


def _is_module(name: str) -> bool:
    """False for a name imported from a module (a class): its parent is no package."""
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def test_every_module_of_the_package_imports():
    """The commands define flags on absl's global FLAGS: each imports in a process of its own
    (below)."""
    modules = [name for name in _package_modules()
               if name.removeprefix("tfprune_rl.") not in COMMANDS]
    assert len(modules) > 80
    for name in modules:
        importlib.import_module(name)


def test_every_tf_agents_module_used_imports():
    modules = _tf_agents_modules()
    assert {"tf_agents.agents.dqn.dqn_agent", "tf_agents.policies.policy_saver",
            "tf_agents.environments.tf_py_environment"} <= set(modules)
    for name in modules:
        importlib.import_module(name)


def test_pip_check_reports_only_the_explained_conflicts():
    result = subprocess.run(
        [sys.executable, os.path.join(REPO_ROOT, "tools", "check_dependencies.py"),
         "--only=pip_check"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "known: tf-agents 0.19.0 has requirement pygame" in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_a_command_checks_its_flags_before_tensorflow_is_imported(command):
    """What a command imports before main runs (flag definitions, checks): no TensorFlow."""
    code = (f"import sys, tfprune_rl.{command}; "
            "print(sorted(m for m in ('tensorflow', 'tf_agents', 'minatar', 'pandas') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
