"""The aggregate as files: aggregate.json (everything, curves included), aggregate.csv (one
row per configuration) and aggregate.md (the tables a person reads), each written to a
temporary path and renamed."""

import csv
import dataclasses
import io
import json
import os

import numpy as np

from tfprune_rl.analysis.aggregate import METRICS, ConfigResult, Normalization, aggregate
from tfprune_rl.analysis.runs import DIAGNOSTICS, Run, load_runs
from tfprune_rl.files import atomic_open
from tfprune_rl.lifecycle.run_dir import read_flagfile

FILES = ("aggregate.json", "aggregate.csv", "aggregate.md")


def report(root_dir: str, output_dir: str, reps: int, seed: int,
           games: list[str] = ()) -> tuple[list[ConfigResult], list[Run], str]:
    """Aggregates the finished runs under `root_dir` (on `games` only, if given) into
    `output_dir`; returns the results, the runs and the Markdown tables."""
    runs, unfinished = load_runs(root_dir)
    if games:
        finished = {run.env_id for run in runs}
        unknown = sorted(set(games) - finished)
        if unknown:
            raise ValueError(f"games {','.join(unknown)}: no finished run under {root_dir}; it "
                             f"has {','.join(sorted(finished))}")
        runs = [run for run in runs if run.env_id in games]
        unfinished = [path for path in unfinished
                      if read_flagfile(os.path.join(path, "flags.txt")).get("env") in games]
    results, norms, incomplete = aggregate(runs, reps, seed)
    tables = markdown(results, norms, unfinished, incomplete, reps)
    os.makedirs(output_dir, exist_ok=True)
    document = {
        "reps": reps,
        "confidence": 0.95,
        "normalization": {game: dataclasses.asdict(norm) for game, norm in norms.items()},
        "unfinished_runs": unfinished,
        "incomplete_configs": incomplete,
        "configs": [dataclasses.asdict(result) for result in results],
    }
    _write(os.path.join(output_dir, "aggregate.json"), json.dumps(document, indent=2))
    _write(os.path.join(output_dir, "aggregate.csv"), _csv(results))
    _write(os.path.join(output_dir, "aggregate.md"), tables)
    return results, runs, tables


def markdown(results: list[ConfigResult], norms: dict[str, Normalization],
             unfinished: list[str], incomplete: dict[str, dict], reps: int) -> str:
    games = sorted(norms)
    lines = [
        f"Normalized final scores over {len(games)} games; point estimate [95% stratified "
        f"bootstrap CI, {reps:,} resamples] (rliable).",
        "",
        "| configuration | seeds | IQM | mean | median | optimality gap | IQM, second half |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for result in results:
        cells = [f"{result.point[m]:.3f} [{result.ci[m][0]:.3f}, {result.ci[m][1]:.3f}]"
                 for m in METRICS] + [_number(result.second_half_iqm)]
        lines.append(f"| {result.label} | {result.seeds} | " + " | ".join(cells) + " |")
    lines += ["", "IQM, second half: the IQM over training (sample efficiency) at each evaluation "
              "from half the last one's step on, averaged; no CI.",
              "", "Mean final evaluation return per game (std over seeds; normalized mean):", "",
              "| configuration | " + " | ".join(games) + " |",
              "| --- |" + " --- |" * len(games)]
    for result in results:
        cells = [f"{g['return_mean']:.2f} ± {g['return_std']:.2f} ({g['normalized_mean']:.2f})"
                 for g in (result.per_game[game] for game in games)]
        lines.append(f"| {result.label} | " + " | ".join(cells) + " |")
    lines += _diagnostics_table(results, games)
    lines += ["", "Normalization (score = (R - zero) / (one - zero)):", ""]
    lines += [f"- {game}: zero {norm.zero:g}, one {norm.one:g} ({norm.meaning})"
              for game, norm in norms.items()]
    if unfinished:
        lines += ["", f"Not included, unfinished: {_runs(len(unfinished))}."]
    if incomplete:
        lines += ["", "Not aggregated, finished on some games only (final evaluation return per "
                  "game, mean ± std over its finished runs):", ""]
        lines += [f"- {label}: " + ", ".join(_finished_returns(game, returns)
                                              for game, returns in finals.items())
                  for label, finals in incomplete.items()]
    return "\n".join(lines) + "\n"


def _finished_returns(game: str, returns: list[float]) -> str:
    if not returns:
        return f"{game} no run"
    if len(returns) == 1:
        return f"{game} {returns[0]:.2f} (1 run)"
    return f"{game} {np.mean(returns):.2f} ± {np.std(returns):.2f} ({_runs(len(returns))})"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _runs(count: int) -> str:
    return "1 run" if count == 1 else f"{count} runs"


def _diagnostics_table(results: list[ConfigResult], games: list[str]) -> list[str]:
    """Each configuration's final plasticity diagnostics per game, mean over seeds."""
    keys = [(key, title) for key, title in DIAGNOSTICS
            if all(key in result.per_game[game]["final_diagnostics"]
                   for result in results for game in games)]
    if not keys:
        return []
    lines = ["", "Final plasticity diagnostics (each run's last diagnostics row, mean over seeds):",
             "", "| configuration | game | " + " | ".join(title for _, title in keys) + " |",
             "| --- | --- |" + " --- |" * len(keys)]
    for result in results:
        for game in games:
            finals = result.per_game[game]["final_diagnostics"]
            lines.append(f"| {result.label} | {game} | "
                         + " | ".join(f"{finals[key]:.3g}" for key, _ in keys) + " |")
    return lines


def _csv(results: list[ConfigResult]) -> str:
    params = sorted({name for result in results for name in result.params})
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["configuration", *params, "seeds",
                     *(f"{m}{suffix}" for m in METRICS for suffix in ("", "_ci_low", "_ci_high")),
                     "second_half_iqm"])
    for result in results:
        writer.writerow([result.label, *(result.params.get(name, "") for name in params),
                         result.seeds,
                         *(value for m in METRICS
                           for value in (result.point[m], *result.ci[m])),
                         "" if result.second_half_iqm is None else result.second_half_iqm])
    return out.getvalue()


def _write(path: str, text: str) -> None:
    with atomic_open(path) as f:
        f.write(text)
