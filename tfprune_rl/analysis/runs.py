"""The runs under a directory (a sweep's, or any set of trainer runs), read from what each run
directory holds: flags.txt, metrics.json, evaluations.jsonl, diagnostics.jsonl."""

import dataclasses
import json
import os

from tfprune_rl.lifecycle.jsonl_log import JsonlLog
from tfprune_rl.lifecycle.run_dir import read_flagfile

# Flags that name a run, not its configuration.
NOT_CONFIG = ("root_dir", "env", "seed")
CLOCK_UNITS = {"env_step": "env steps", "update": "updates"}
# The plasticity diagnostics a report shows: diagnostics.jsonl key, and what it is.
DIAGNOSTICS = (
    ("diagnostics/srank", "srank (feature rank, delta 0.01)"),
    ("diagnostics/dormant_tau_0.1/all", "dormant neurons (tau 0.1), fraction"),
    ("diagnostics/param_norm", "parameter norm"),
    ("diagnostics/q_norm", "mean ‖Q(s, ·)‖"),
)


@dataclasses.dataclass(frozen=True)
class Run:
    path: str
    flags: dict[str, str]
    metrics: dict
    evaluations: list[dict]
    diagnostics: list[dict]

    @property
    def env_id(self) -> str:
        return self.flags["env"]

    @property
    def clock(self) -> str:
        """The log rows' key that measures progress: env steps, or updates on a fixed dataset."""
        return "update" if self.metrics.get("mode") == "offline" else "env_step"

    def final(self, key: str) -> float | None:
        """The final evaluation's mean return ("return"), or a diagnostic's last logged value;
        None when the run logged no such diagnostic."""
        if key == "return":
            return self.metrics["eval_return_mean"]
        return self.diagnostics[-1].get(key) if self.diagnostics else None


def load_runs(root_dir: str) -> tuple[list[Run], list[str]]:
    """Finished runs (those with metrics.json) and the paths of unfinished ones."""
    finished, unfinished = [], []
    for directory, subdirectories, files in os.walk(root_dir):
        subdirectories.sort()
        if "flags.txt" not in files:
            continue
        subdirectories.clear()  # a run's checkpoints and exports hold no other runs
        if "metrics.json" not in files:
            unfinished.append(directory)
            continue
        with open(os.path.join(directory, "metrics.json")) as f:
            metrics = json.load(f)
        finished.append(Run(
            directory, read_flagfile(os.path.join(directory, "flags.txt")), metrics,
            JsonlLog(os.path.join(directory, "evaluations.jsonl")).rows(),
            JsonlLog(os.path.join(directory, "diagnostics.jsonl")).rows(),
        ))
    if not finished:
        raise ValueError(f"root_dir {root_dir} holds no finished run (no metrics.json under it)")
    return finished, unfinished


def config_flags(runs: list[Run]) -> list[str]:
    """The flags whose values differ between runs (other than game and seed): what tells one
    configuration from another."""
    names = sorted({name for run in runs for name in run.flags} - set(NOT_CONFIG))
    return [name for name in names if len({run.flags.get(name) for run in runs}) > 1]


def config_of(run: Run, names: list[str]) -> tuple[tuple[str, str], ...]:
    """A dense run (sparsity 0) has no pruning method: its `pruning` reads "none"."""
    dense = float(run.flags.get("sparsity", "1")) == 0
    return tuple((name, "none" if dense and name == "pruning" else run.flags.get(name, ""))
                 for name in names)


def config_label(config: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(f"{name}={value}" for name, value in config) or "all runs"
