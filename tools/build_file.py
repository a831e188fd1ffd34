"""Writes BUILD from the code: a target per module, test file and tool, whose deps are the
package modules it imports (at any depth of the file), names as "module:attribute" (the
registries' lazy references) or exports lazily (`tfprune_rl.lazy.exports`). tests/test_build.py checks that BUILD is what this writes.

    python tools/build_file.py
"""

import ast
import os
import re

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOPS = ("tfprune_rl", "tests", "tools")
HEADER = """# Written by tools/build_file.py from the imports; tests/test_build.py keeps it in step.
# One target per module, test file and tool; deps are the package modules each imports.

package(default_visibility = ["//visibility:public"])
"""
LAZY_REFERENCE = re.compile(r"^(tfprune_rl(?:\.\w+)+):\w+$")


def python_files() -> list[str]:
    found = []
    for top in TOPS:
        for directory, _, files in os.walk(os.path.join(REPO_ROOT, top)):
            found += [os.path.relpath(os.path.join(directory, name), REPO_ROOT)
                      for name in files if name.endswith(".py")]
    return sorted(found)


def target_name(path: str) -> str:
    top, *rest = path[:-len(".py")].split("/")
    if top == "tfprune_rl":
        parts = [part for part in rest if part != "__init__"]
        return "_".join(parts) or "tfprune_rl"
    return rest[-1] if rest[-1].startswith("test_") else f"{top}_{'_'.join(rest)}"


def _module_file(module: str, files: set[str]) -> str | None:
    base = module.replace(".", "/")
    for path in (f"{base}.py", f"{base}/__init__.py", f"tests/{base}.py"):
        if path in files:
            return path
    return None


def imported_files(path: str, files: set[str]) -> set[str]:
    """The files of this repository that `path` imports or names lazily."""
    with open(os.path.join(REPO_ROOT, path)) as f:
        tree = ast.parse(f.read())
    modules = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            # `from package import module` depends on the module, `from module import name`
            # on the module.
            modules += [f"{node.module}.{alias.name}"
                        if _module_file(f"{node.module}.{alias.name}", files) else node.module
                        for alias in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = LAZY_REFERENCE.match(node.value)
            modules += [match.group(1)] if match else []
        elif (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "exports"
              and isinstance(node.args[1], ast.Dict)):  # a package's lazily imported modules
            package = os.path.dirname(path).replace("/", ".")
            modules += [f"{package}.{key.value}" for key in node.args[1].keys]
    return {target for target in (_module_file(module, files) for module in modules)
            if target and target != path}


def build_file() -> str:
    files = python_files()
    known = set(files)
    blocks = [HEADER]
    for path in files:
        kind = ("py_test" if os.path.basename(path).startswith("test_") else
                "py_binary" if path.startswith("tools/") else "py_library")
        deps = sorted(f'":{target_name(dep)}"' for dep in imported_files(path, known))
        lines = [f"{kind}(", f'    name = "{target_name(path)}",', f'    srcs = ["{path}"],']
        if deps:
            lines += ["    deps = [", *(f"        {dep}," for dep in deps), "    ],"]
        blocks.append("\n".join([*lines, ")"]) + "\n")
    return "\n".join(blocks)


if __name__ == "__main__":
    with open(os.path.join(REPO_ROOT, "BUILD"), "w") as f:
        f.write(build_file())
