"""The run directory's flags.txt: written once, and a different run is never mixed into it.

The file starts with `--root_dir`, so that `--flagfile=DIR/flags.txt` re-runs the run; only the
other flags are compared, so a run directory that was moved still resumes.
"""

import os

from tfprune_rl.files import atomic_open


def read_flagfile(path: str) -> dict[str, str]:
    """`--name=value` lines as {name: value}."""
    with open(path) as f:
        lines = [line.strip() for line in f if line.strip().startswith("--")]
    return dict(line[2:].split("=", 1) for line in lines)


def claim_run_dir(root_dir: str, flags: dict[str, str]) -> None:
    """Creates `root_dir` with flags.txt, or checks that it holds a run with these flags.

    `flags` are the run-defining flags other than the root directory itself.
    """
    flags_path = os.path.join(root_dir, "flags.txt")
    if os.path.exists(flags_path):
        saved = read_flagfile(flags_path)
        saved.pop("root_dir", None)
        changed = sorted(name for name in flags.keys() | saved.keys()
                         if flags.get(name) != saved.get(name))
        if changed:
            details = ", ".join(
                f"--{name}={flags.get(name, '(unset)')} (run has {saved.get(name, '(unset)')})"
                for name in changed
            )
            raise ValueError(
                f"root_dir {root_dir} holds a run with different flags: {details}; "
                "pass the same flags to resume it, or choose another --root_dir"
            )
        return
    if os.path.isdir(root_dir) and os.listdir(root_dir):
        raise ValueError(
            f"root_dir {root_dir} is not empty and holds no run (no flags.txt); "
            "choose a new or empty directory"
        )
    os.makedirs(root_dir, exist_ok=True)
    with atomic_open(flags_path) as f:
        f.write("".join(f"--{name}={value}\n" for name, value in {"root_dir": root_dir, **flags}.items()))
