"""The aggregate as files: aggregate.json (everything, curves included), aggregate.csv (one
row per configuration) and aggregate.md (the tables a person reads), each written to a
temporary path and renamed."""

import csv
import dataclasses
import io
import json
import os

from tfprune_rl.analysis.aggregate import METRICS, ConfigResult, Normalization, aggregate
from tfprune_rl.analysis.runs import Run, load_runs
from tfprune_rl.files import atomic_open

FILES = ("aggregate.json", "aggregate.csv", "aggregate.md")


def report(root_dir: str, output_dir: str, reps: int,
           seed: int) -> tuple[list[ConfigResult], list[Run], str]:
    """Aggregates the finished runs under `root_dir` into `output_dir`; returns the results,
    the runs and the Markdown tables."""
    runs, unfinished = load_runs(root_dir)
    results, norms = aggregate(runs, reps, seed)
    write_report(results, norms, unfinished, reps, output_dir)
    return results, runs, markdown(results, norms, unfinished, reps)


def write_report(results: list[ConfigResult], norms: dict[str, Normalization],
                 unfinished: list[str], reps: int, output_dir: str) -> None:
    os.makedirs(output_dir, exist_ok=True)
    document = {
        "reps": reps,
        "confidence": 0.95,
        "normalization": {game: dataclasses.asdict(norm) for game, norm in norms.items()},
        "unfinished_runs": unfinished,
        "configs": [dataclasses.asdict(result) for result in results],
    }
    _write(os.path.join(output_dir, "aggregate.json"), json.dumps(document, indent=2))
    _write(os.path.join(output_dir, "aggregate.csv"), _csv(results))
    _write(os.path.join(output_dir, "aggregate.md"), markdown(results, norms, unfinished, reps))


def markdown(results: list[ConfigResult], norms: dict[str, Normalization],
             unfinished: list[str], reps: int) -> str:
    games = sorted(norms)
    lines = [
        f"Normalized final scores over {len(games)} games; point estimate [95% stratified "
        f"bootstrap CI, {reps:,} resamples] (rliable).",
        "",
        "| configuration | seeds | IQM | mean | median | optimality gap |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for result in results:
        cells = [f"{result.point[m]:.3f} [{result.ci[m][0]:.3f}, {result.ci[m][1]:.3f}]"
                 for m in METRICS]
        lines.append(f"| {result.label} | {result.seeds} | " + " | ".join(cells) + " |")
    lines += ["", "Mean final evaluation return per game (std over seeds; normalized mean):", "",
              "| configuration | " + " | ".join(games) + " |",
              "| --- |" + " --- |" * len(games)]
    for result in results:
        cells = [f"{g['return_mean']:.2f} ± {g['return_std']:.2f} ({g['normalized_mean']:.2f})"
                 for g in (result.per_game[game] for game in games)]
        lines.append(f"| {result.label} | " + " | ".join(cells) + " |")
    lines += ["", "Normalization (score = (R - zero) / (one - zero)):", ""]
    lines += [f"- {game}: zero {norm.zero:g}, one {norm.one:g} ({norm.meaning})"
              for game, norm in norms.items()]
    if unfinished:
        lines += ["", f"Not included, unfinished: {len(unfinished)} runs."]
    return "\n".join(lines) + "\n"


def _csv(results: list[ConfigResult]) -> str:
    params = sorted({name for result in results for name in result.params})
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["configuration", *params, "seeds",
                     *(f"{m}{suffix}" for m in METRICS for suffix in ("", "_ci_low", "_ci_high"))])
    for result in results:
        writer.writerow([result.label, *(result.params.get(name, "") for name in params),
                         result.seeds,
                         *(value for m in METRICS
                           for value in (result.point[m], *result.ci[m]))])
    return out.getvalue()


def _write(path: str, text: str) -> None:
    with atomic_open(path) as f:
        f.write(text)
