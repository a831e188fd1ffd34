"""The paper's figures from an aggregate: IQM against width and against sparsity (dense and
pruned lines with 95% CI bands), IQM over training, each game's final return and plasticity
diagnostics against width, and the diagnostics over training. PNG files of a fixed size,
written to a temporary path and renamed."""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tfprune_rl.analysis.aggregate import ConfigResult  # noqa: E402
from tfprune_rl.analysis.runs import (  # noqa: E402
    CLOCK_UNITS, DIAGNOSTICS, Run, config_flags, config_of,
)
from tfprune_rl.envs import game_name  # noqa: E402
from tfprune_rl.files import atomic_open  # noqa: E402

DPI = 100
FIGURE_SIZE = (8, 5)  # inches: 800 x 500 pixels
DIAGNOSTICS_SIZE = (12, 8)  # 1200 x 800
PANEL_SIZE = np.array([4.5, 2.4])  # one panel of per_game_vs_width.png: 450 x 240 pixels


def draw_all(results: list[ConfigResult], runs: list[Run], output_dir: str) -> list[str]:
    """Writes every figure the sweep's dimensions allow; returns their paths."""
    os.makedirs(output_dir, exist_ok=True)
    paths = []
    for x_name, file_name in (("width", "iqm_vs_width.png"),
                              ("sparsity", "iqm_vs_sparsity.png")):
        if len({result.params.get(x_name) for result in results} - {None}) > 1:
            paths.append(_save(_iqm_against(results, x_name), output_dir, file_name))
    if any(result.curve["steps"] for result in results):
        paths.append(_save(_sample_efficiency(results), output_dir, "sample_efficiency.png"))
    if len({run.flags.get("width") for run in runs} - {None}) > 1:
        paths.append(_save(_finals_against_width(runs, config_flags(runs)), output_dir,
                           "per_game_vs_width.png"))
    for env_id in sorted({run.env_id for run in runs}):
        game_runs = [run for run in runs if run.env_id == env_id and run.diagnostics]
        if game_runs:
            figure = _diagnostics(game_runs, config_flags(runs), env_id)
            paths.append(_save(figure, output_dir,
                               f"diagnostics_{env_id.replace('/', '-')}.png"))
    return paths


def _series_label(params: dict[str, str]) -> str:
    """'dense' or '95% sparse', then any other differing flags."""
    parts = []
    if "sparsity" in params:
        sparsity = float(params["sparsity"])
        parts.append("dense" if sparsity == 0 else f"{sparsity:.0%} sparse")
    parts += [f"{name}={value}" for name, value in params.items() if name != "sparsity"]
    return ", ".join(parts) or "all runs"


def _iqm_against(results: list[ConfigResult], x_name: str):
    figure, axes = plt.subplots(figsize=FIGURE_SIZE, dpi=DPI, layout="constrained")
    series = {}
    for result in results:
        rest = {k: v for k, v in result.params.items() if k != x_name}
        series.setdefault(tuple(rest.items()), []).append(result)
    for rest, members in series.items():
        members.sort(key=lambda result: float(result.params[x_name]))
        x = [float(result.params[x_name]) for result in members]
        line, = axes.plot(x, [result.point["iqm"] for result in members], marker="o",
                          label=_series_label(dict(rest)))
        axes.fill_between(x, [result.ci["iqm"][0] for result in members],
                          [result.ci["iqm"][1] for result in members],
                          color=line.get_color(), alpha=0.2)
    axes.set_xlabel("width multiplier" if x_name == "width" else "final sparsity")
    axes.set_ylabel("IQM normalized score")
    axes.set_title(f"IQM of final scores against {x_name} (95% bootstrap CI)")
    if x_name == "width":
        axes.set_xticks(sorted({float(result.params[x_name]) for result in results}))
    axes.grid(alpha=0.3)
    axes.legend()
    return figure


def _sample_efficiency(results: list[ConfigResult]):
    figure, axes = plt.subplots(figsize=FIGURE_SIZE, dpi=DPI, layout="constrained")
    for result in results:
        steps = np.asarray(result.curve["steps"])
        line, = axes.plot(steps, result.curve["iqm"], label=_series_label(result.params))
        axes.fill_between(steps, result.curve["ci_low"], result.curve["ci_high"],
                          color=line.get_color(), alpha=0.2)
    axes.set_xlabel(" or ".join(sorted({result.curve["unit"] for result in results})))
    axes.set_ylabel("IQM normalized score")
    axes.set_title("Sample efficiency: IQM over training (95% bootstrap CI)")
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small")
    return figure


def _finals_against_width(runs: list[Run], names: list[str]):
    """A column per game, a row per final value (the return, then each diagnostic): a line per
    configuration apart from its width through the mean over seeds, each seed a dot. Every
    finished run is drawn, also those of configurations the aggregate leaves out."""
    games = sorted({run.env_id for run in runs})
    rows = (("return", "final return (last evaluation)"), *DIAGNOSTICS)
    figure, panels = plt.subplots(len(rows), len(games), squeeze=False, dpi=DPI,
                                  figsize=PANEL_SIZE * np.array([len(games), len(rows)]),
                                  layout="constrained")
    series_names = [name for name in names if name != "width"]
    for column, game in enumerate(games):
        by_series = {}
        for run in runs:
            if run.env_id == game:
                by_series.setdefault(config_of(run, series_names), []).append(run)
        for (key, title), axes in zip(rows, panels[:, column]):
            for series, members in sorted(by_series.items()):
                points = [(float(run.flags["width"]), run.final(key)) for run in members
                          if run.final(key) is not None]
                if not points:
                    continue
                widths = sorted({width for width, _ in points})
                line, = axes.plot(widths, [np.mean([value for w, value in points if w == width])
                                           for width in widths],
                                  marker="o", label=_series_label(dict(series)))
                axes.scatter(*zip(*points), s=12, alpha=0.5, color=line.get_color())
            axes.set_title(f"{game_name(game)}: {title}", fontsize="medium")
            axes.set_xticks(sorted({float(run.flags["width"]) for run in runs}))
            axes.grid(alpha=0.3)
        panels[-1, column].set_xlabel("width multiplier")
    panels[0, 0].legend(fontsize="small")
    figure.suptitle("Final values against width per game; line: mean over seeds, dots: seeds")
    return figure


def _diagnostics(runs: list[Run], names: list[str], env_id: str):
    """One panel per diagnostic; a line per configuration: the mean over seeds, with a band
    from the lowest to the highest seed."""
    figure, panels = plt.subplots(2, 2, figsize=DIAGNOSTICS_SIZE, dpi=DPI, layout="constrained")
    by_config = {}
    for run in runs:
        by_config.setdefault(config_of(run, names), []).append(run)
    for (tag, title), axes in zip(DIAGNOSTICS, panels.flat):
        for config, members in sorted(by_config.items()):
            steps = sorted(set.intersection(*({row[run.clock] for row in run.diagnostics}
                                              for run in members)))
            values = np.array([[{row[run.clock]: row[tag] for row in run.diagnostics}[step]
                                for step in steps] for run in members])
            line, = axes.plot(steps, values.mean(axis=0), label=_series_label(dict(config)))
            axes.fill_between(steps, values.min(axis=0), values.max(axis=0),
                              color=line.get_color(), alpha=0.15)
        axes.set_title(title)
        axes.set_xlabel(" or ".join(sorted({CLOCK_UNITS[run.clock] for run in runs})))
        axes.grid(alpha=0.3)
    panels.flat[0].legend(fontsize="small")
    figure.suptitle(f"Plasticity diagnostics on {game_name(env_id)} ({env_id}); "
                    "mean over seeds, band: min to max")
    return figure


def _save(figure, output_dir: str, name: str) -> str:
    path = os.path.join(output_dir, name)
    with atomic_open(path, "wb") as f:
        figure.savefig(f, dpi=DPI, format="png")
    plt.close(figure)
    return path
