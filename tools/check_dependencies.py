"""Checks the dependency set: what `pip check` reports here, and that the whole set still
resolves to wheels on every CPython the project supports, without that interpreter.

    python tools/check_dependencies.py            # both checks; CI runs this
    python tools/check_dependencies.py --only=pip_check

`pip check` reports the pins that TF-Agents 0.19.0 and gym 0.23.0 state and that are not kept
(they are installed with --no-deps, requirements-no-deps.txt). Each is listed in KNOWN_CONFLICTS
with why it is safe; any other conflict fails.

The resolution check asks pip, for each Python in PYTHONS, to resolve setup.cfg's requirements
(test extra included) to wheels only (`--dry-run --only-binary=:all: --python-version`), then
the no-deps requirements with --no-deps. gym and rliable ship only their source (pure Python):
their metadata is built here, what rliable requires is resolved to wheels with the rest, and
both were shown to build on CPython 3.13 (Debian 13). Environment markers are
read for this interpreter, not the target one (pip's --python-version sets tags and
Requires-Python only). The first dependency that loses its wheels for a Python fails the check
in one line that names it.
"""

import argparse
import configparser
import json
import os
import re
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHONS = ("3.10", "3.11", "3.12", "3.13")
SOURCE_ONLY = ("gym", "rliable")  # no wheel on the index; pure Python, built from source
# (distribution, requirement it states) -> why not installing it as stated is safe.
KNOWN_CONFLICTS = {
    ("tf-agents", "pygame"): "pygame 2.1.3 builds on no CPython past 3.11; the pygame "
                             "installed renders gymnasium's classic-control envs, and "
                             "TF-Agents uses it only to render gym environments",
    ("tf-agents", "tensorflow-probability"): "TFP 0.23 is for TensorFlow 2.15; 0.25 is the "
                                             "release for TensorFlow 2.21, and TF-Agents' "
                                             "policies and agents pass the suite with it",
    ("tf-agents", "typing-extensions"): "the pin to 4.5.0 is stale; later releases keep every "
                                        "name TF-Agents imports",
    ("gym", "gym-notices"): "it only prints gym's 'unmaintained' banner at import",
}


def requirements() -> tuple[list[str], list[str]]:
    """setup.cfg's install_requires and test extra; requirements-no-deps.txt's lines."""
    config = configparser.ConfigParser()
    config.read(os.path.join(REPO, "setup.cfg"))

    def lines(text: str) -> list[str]:
        return [line.strip() for line in text.splitlines()
                if line.strip() and not line.strip().startswith("#")]

    full = lines(config["options"]["install_requires"]) + lines(
        config["options.extras_require"]["test"])
    with open(os.path.join(REPO, "requirements-no-deps.txt")) as f:
        no_deps = lines(f.read())
    return full, no_deps


def pip_check() -> list[str]:
    """Problems: the conflicts `pip check` names that KNOWN_CONFLICTS does not explain."""
    result = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True,
                            text=True)
    problems = []
    for line in result.stdout.splitlines():
        match = re.match(r"(\S+) \S+ (?:requires|has requirement) ([A-Za-z0-9_.\-]+)", line)
        key = match and (_name(match.group(1)), _name(match.group(2)))
        if key in KNOWN_CONFLICTS:
            print(f"known: {line} ({KNOWN_CONFLICTS[key]})")
        else:
            problems.append(f"pip check: {line}")
    return problems


def sources(full: list[str], no_deps: list[str]) -> tuple[list[str], list[str]]:
    """Builds the source-only requirements' metadata here (they are pure Python) and returns
    (what those of `full` require, problems): their own requirements are then resolved to
    wheels like the rest."""
    wanted = [line for line in full + no_deps if _name(line) in SOURCE_ONLY]
    with tempfile.TemporaryDirectory() as folder:
        report = os.path.join(folder, "report.json")
        result = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--ignore-installed",
             "--no-deps", "--no-binary=:all:", "--report", report, *wanted],
            capture_output=True, text=True)
        if result.returncode:
            return [], [f"source of {', '.join(wanted)}: {_failure(result.stderr)}"]
        with open(report) as f:
            installs = json.load(f)["install"]
    needed = {_name(line) for line in full}
    required = [line for item in installs if _name(item["metadata"]["name"]) in needed
                for line in item["metadata"].get("requires_dist", []) if "extra ==" not in line]
    return required, []


def resolve(python: str, full: list[str], no_deps: list[str], from_sources: list[str]
            ) -> list[str]:
    """Problems resolving every requirement to wheels for CPython `python`."""
    wheels = [line for line in full if _name(line) not in SOURCE_ONLY] + from_sources
    wheels_no_deps = [line for line in no_deps if _name(line) not in SOURCE_ONLY]
    problems = []
    for extra_args, wanted in (([], wheels), (["--no-deps"], wheels_no_deps)):
        with tempfile.TemporaryDirectory() as target:
            result = subprocess.run(
                [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet",
                 "--ignore-installed", "--only-binary=:all:", "--python-version", python,
                 "--target", target, *extra_args, *wanted], capture_output=True, text=True)
        if result.returncode:
            problems.append(f"CPython {python}: {_failure(result.stderr)}")
    return problems


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _failure(stderr: str) -> str:
    """pip's reason in one line, naming the dependency where pip does."""
    missing = re.search(r"No matching distribution found for (\S+)", stderr)
    if missing:
        return f"no wheel of {missing.group(1)} (pip: no matching distribution)"
    errors = [line for line in stderr.splitlines() if line.startswith("ERROR")]
    return (errors or stderr.strip().splitlines() or ["pip failed"])[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("pip_check", "resolve"), help="one of the checks")
    args = parser.parse_args()
    full, no_deps = requirements()
    problems = []
    if args.only in (None, "pip_check"):
        problems += pip_check()
    if args.only in (None, "resolve"):
        from_sources, problems_of_sources = sources(full, no_deps)
        problems += problems_of_sources
        for python in PYTHONS:
            found = resolve(python, full, no_deps, from_sources)
            problems += found
            if not found:
                print(f"CPython {python}: every requirement resolves to wheels, but "
                      f"{', '.join(SOURCE_ONLY)}: pure-Python source")
    for problem in problems:
        print(f"check_dependencies: {problem}", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
