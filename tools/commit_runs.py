"""Commits each finished run's small files under a sweep root, as soon as the run finishes.

A long study runs from its own clone and venv (one fixed commit) with its sweep root inside this
repository. This loop, run from the repository, commits every run directory that has a
metrics.json and is not yet committed: its flags, metrics, evaluations, diagnostics,
TensorBoard events, export report and the trainer's log. Checkpoints, replay and exported
models are never committed (.gitignore). Each commit also rewrites the root's STATUS.md: runs
finished, the commit the study's code runs from, and how to resume it.

    python tools/commit_runs.py experiments/results/minatar_width --code_commit=SHA \
        --resume="tfprune-sweep ..." --total=54
"""

import argparse
import datetime
import glob
import os
import subprocess
import sys
import time

SMALL_FILES = ("flags.txt", "metrics.json", "evaluations.jsonl", "diagnostics.jsonl",
               "export/report.json", "tensorboard/**/*")


def git(*args: str, cwd: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


def finished_runs(root: str) -> list[str]:
    return sorted(os.path.dirname(path) for path in
                  glob.glob(os.path.join(root, "**", "metrics.json"), recursive=True)
                  if "/checkpoints/" not in path)


def started_runs(root: str) -> list[str]:
    return sorted(os.path.dirname(path) for path in
                  glob.glob(os.path.join(root, "**", "flags.txt"), recursive=True))


def small_files(root: str, run: str) -> list[str]:
    files = [path for pattern in SMALL_FILES
             for path in glob.glob(os.path.join(run, pattern), recursive=True)
             if os.path.isfile(path)]
    log = os.path.join(root, "logs", os.path.relpath(run, root) + ".log")
    return files + ([log] if os.path.isfile(log) else [])


def write_status(root: str, runs: list[str], code_commit: str, resume: str, total: int) -> str:
    path = os.path.join(root, "STATUS.md")
    with open(path + ".tmp", "w") as f:
        f.write(f"# {os.path.basename(os.path.abspath(root))}\n\n"
                f"- finished: {len(runs)} of {total} runs "
                f"(as of {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC)\n"
                f"- code: every run trains with commit `{code_commit}`, from its own clone "
                "and venv\n"
                f"- resume (finished runs are skipped; a run that was going restarts from its "
                f"last checkpoint, or from the start on a new machine):\n\n"
                f"      git clone REPO main && git clone main study\n"
                f"      cd study && git checkout {code_commit}\n"
                f"      python3 -m venv .venv && .venv/bin/pip install -e .\n"
                f"      {resume}\n\n"
                "  The sweep's flagfile and this root are read from `main`; the trainer and its "
                "preset from `study`. Each finished run is committed by `tools/commit_runs.py` "
                "(in `main`).\n\n"
                "## Finished runs\n\n" + "".join(f"- `{os.path.relpath(run, root)}`\n"
                                                 for run in runs)
                + "\n## Started, not finished (not committed; they resume or restart)\n\n"
                + "".join(f"- `{os.path.relpath(run, root)}`\n"
                          for run in started_runs(root) if run not in runs))
    os.replace(path + ".tmp", path)
    return path


def commit_new(repo: str, root: str, code_commit: str, resume: str, total: int,
               status: bool = False) -> int:
    """Commits the runs finished since the last commit, with STATUS.md; with `status`, commits
    STATUS.md even when no run is new (a study's state at a session's end)."""
    tracked = set(git("ls-files", "--", root, cwd=repo).split())
    runs = finished_runs(root)
    new = [run for run in runs
           if os.path.relpath(os.path.join(run, "metrics.json"), repo) not in tracked]
    if not (new or status):
        return 0
    paths = [write_status(root, runs, code_commit, resume, total)]
    for run in new:
        paths += small_files(root, run)
    paths = [os.path.relpath(path, repo) for path in paths]
    git("add", "-f", "--", *paths, cwd=repo)
    names = ", ".join(os.path.relpath(run, root) for run in new)
    if not git("status", "--porcelain", "--", *paths, cwd=repo).strip():
        return 0
    git("commit", "-q", "-m", f"Results: {os.path.basename(os.path.abspath(root))} "
        f"{len(runs)}/{total} finished ({names or 'status'})", "--only", "--", *paths,
        cwd=repo)
    return len(new)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", help="a sweep root inside this repository")
    parser.add_argument("--code_commit", required=True, help="the commit the study runs")
    parser.add_argument("--resume", required=True, help="the command that resumes the sweep")
    parser.add_argument("--total", type=int, required=True, help="runs in the study")
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between looks")
    parser.add_argument("--once", action="store_true", help="commit what is finished, and "
                        "STATUS.md in any case, and exit")
    args = parser.parse_args()
    repo = git("rev-parse", "--show-toplevel", cwd=os.path.dirname(os.path.abspath(__file__)))
    repo = repo.strip()
    while True:
        try:
            count = commit_new(repo, os.path.abspath(args.root), args.code_commit, args.resume,
                               args.total, status=args.once)
            if count:
                print(f"commit_runs: committed {count} finished run(s) of {args.root}",
                      flush=True)
        except subprocess.CalledProcessError as error:  # say, index.lock held: next look
            print(f"commit_runs: {args.root}: {error.stderr.strip()}", file=sys.stderr,
                  flush=True)
        if args.once:
            return
        time.sleep(args.interval)


if __name__ == "__main__":
    main()
