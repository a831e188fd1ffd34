"""Aggregate metrics over games and seeds with stratified bootstrap confidence intervals
(Agarwal et al. 2021, with their rliable library): IQM, mean, median and optimality gap of
normalized final scores per configuration, and IQM over training (sample efficiency), with its
average over the second half of training."""

import collections
import dataclasses
import json

import numpy as np
from rliable import library, metrics

from tfprune_rl.analysis.reference_scores import references
from tfprune_rl.analysis.runs import (
    CLOCK_UNITS, DIAGNOSTICS, Run, config_flags, config_label, config_of,
)

METRICS = ("iqm", "mean", "median", "optimality_gap")
RLIABLE_DEFAULT_REPS = 50_000


def iqm(scores: np.ndarray) -> np.ndarray:
    """The interquartile mean over runs and games (the first two axes), per entry of any
    further axis: rliable's 25% trimmed mean (scipy's trim_mean), in NumPy alone. scipy's
    spends about 0.6 ms a call checking its arguments: with it, tfprune-plot on 4
    configurations at 50,000 resamples took 12 min 46 s; with this one, tfprune-aggregate (the
    same bootstraps, no figures) took 2 min 3 s, both on a CPU shared with other work. The
    values are equal (tested)."""
    flat = np.sort(scores.reshape(-1, *scores.shape[2:]), axis=0)
    cut = int(0.25 * len(flat))
    return flat[cut:len(flat) - cut].mean(axis=0)


def _aggregates(scores: np.ndarray) -> np.ndarray:
    return np.array([iqm(scores), metrics.aggregate_mean(scores),
                     metrics.aggregate_median(scores), metrics.aggregate_optimality_gap(scores)])


@dataclasses.dataclass
class Normalization:
    env_id: str
    zero: float  # the return that scores 0
    one: float  # the return that scores 1
    meaning: str

    def __call__(self, returns):
        return (np.asarray(returns, dtype=float) - self.zero) / (self.one - self.zero)


@dataclasses.dataclass
class ConfigResult:
    label: str
    params: dict[str, str]
    seeds: int
    point: dict[str, float]
    ci: dict[str, tuple[float, float]]
    per_game: dict[str, dict]
    curve: dict  # unit ("env steps" or "updates"), steps, iqm, ci_low, ci_high

    @property
    def second_half_iqm(self) -> float | None:
        """The curve's IQM averaged over its evaluations from half the last one's step on: a
        score that weighs the later curve, where a final score weighs one evaluation (on MinAtar
        SpaceInvaders one run's evaluations swing by a factor of 2 from one to the next)."""
        steps = self.curve["steps"]
        later = [value for step, value in zip(steps, self.curve["iqm"]) if 2 * step >= steps[-1]]
        return float(np.mean(later)) if later else None


def _seeded_estimates(scores: np.ndarray, func, reps: int, seed: int):
    """rliable's point estimates and 95% CIs of `func`. rliable 1.2 draws its resamples from
    NumPy's global generator whatever `random_state` says, so that generator is seeded here
    (and put back afterwards) to make the intervals reproducible."""
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        points, intervals = library.get_interval_estimates(
            {"scores": scores}, func, reps=reps)
    finally:
        np.random.set_state(saved)
    return points["scores"], intervals["scores"]


def interval_estimates(scores: np.ndarray, reps: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """METRICS of a (runs x games) array and their 95% CIs, (2 x metrics)."""
    return _seeded_estimates(scores, _aggregates, reps, seed)


def iqm_curve(scores: np.ndarray, reps: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """IQM at each evaluation point of a (runs x games x points) array, with 95% CIs."""
    return _seeded_estimates(scores, iqm, reps, seed)


def group_runs(runs: list[Run]) -> tuple[dict[tuple, dict[str, list[Run]]], dict[str, dict]]:
    """({configuration: {env id: runs sorted by seed}}, {label: {env id: final returns}}): the
    first holds the configurations with the same number of finished runs on every game (the
    stratified bootstrap resamples runs within a game), the second the others, left out of the
    aggregate until their sweep has finished them, with what their finished runs reached."""
    names = config_flags(runs)
    grouped = collections.defaultdict(lambda: collections.defaultdict(list))
    for run in runs:
        grouped[config_of(run, names)][run.env_id].append(run)
    games = sorted({run.env_id for run in runs})
    complete, incomplete = {}, {}
    for config, found in grouped.items():
        by_game = {game: sorted(found.get(game, []), key=_seed) for game in games}
        if len({len(game_runs) for game_runs in by_game.values()}) > 1:
            incomplete[config_label(config)] = {
                game: [run.metrics["eval_return_mean"] for run in game_runs]
                for game, game_runs in by_game.items()}
            continue
        complete[config] = by_game
    if not complete:
        described = "; ".join(
            f"{label}: {({game: len(returns) for game, returns in finals.items()})}"
            for label, finals in incomplete.items())
        raise ValueError("no configuration has the same number of finished runs on every game "
                         f"({described}); finish more of the sweep first")
    return complete, incomplete


def _seed(run: Run) -> int:
    return int(run.flags.get("seed", 0))


def normalizations(grouped: dict[tuple, dict[str, list[Run]]]) -> dict[str, Normalization]:
    games = sorted({game for by_game in grouped.values() for game in by_game})
    result = {}
    for game in games:
        runs = [run for by_game in grouped.values() for run in by_game.get(game, [])]
        stated = {json.dumps(run.metrics.get("reference_returns"), sort_keys=True) for run in runs}
        if len(stated) > 1:
            raise ValueError(f"{game}: runs state different reference returns ({', '.join(sorted(stated))}); "
                             "aggregate runs on one dataset per game")
        dataset_references = runs[0].metrics.get("reference_returns")
        if dataset_references:  # offline continuous control: D4RL's normalization, on a 0-1 scale
            result[game] = Normalization(
                game, dataset_references["random"], dataset_references["expert"],
                "the dataset's random = 0 and expert = 1 (D4RL's normalized score / 100)")
            continue
        best = max(np.mean([run.metrics["eval_return_mean"] for run in by_game[game]])
                   for by_game in grouped.values() if game in by_game)
        result[game] = Normalization(game, *references(game, best))
    return result


def aggregate(runs: list[Run], reps: int = RLIABLE_DEFAULT_REPS, seed: int = 0
              ) -> tuple[list[ConfigResult], dict[str, Normalization], dict[str, dict]]:
    """Results of the configurations finished alike on every game, the games' normalizations,
    and the configurations left out (group_runs)."""
    grouped, incomplete = group_runs(runs)
    norms = normalizations(grouped)
    games = sorted(norms)
    results = []
    for config, by_game in sorted(grouped.items()):
        final = np.array([norms[game]([run.metrics["eval_return_mean"]
                                       for run in by_game[game]]) for game in games]).T
        point, interval = interval_estimates(final, reps, seed)
        steps, curves = _evaluation_curves(by_game, games)
        curve_point, curve_interval = (iqm_curve(
            np.stack([[norms[game](c) for game, c in zip(games, run_curves)]
                      for run_curves in curves]), reps, seed)
            if steps else (np.zeros(0), np.zeros((2, 0))))
        results.append(ConfigResult(
            label=config_label(config),
            params=dict(config),
            seeds=final.shape[0],
            point=dict(zip(METRICS, point.tolist())),
            ci={name: (float(interval[0, i]), float(interval[1, i]))
                for i, name in enumerate(METRICS)},
            per_game={game: _game_summary(by_game[game], norms[game]) for game in games},
            curve={"unit": CLOCK_UNITS[by_game[games[0]][0].clock], "steps": steps,
                   "iqm": curve_point.tolist(),
                   "ci_low": curve_interval[0].tolist(), "ci_high": curve_interval[1].tolist()},
        ))
    return results, norms, incomplete


def _evaluation_curves(by_game: dict[str, list[Run]], games: list[str]):
    """The evaluation points every run of a configuration has, and each run's returns at
    them, as [run][game][point] (run i of each game is that game's i-th seed)."""
    all_runs = [run for game in games for run in by_game[game]]
    steps = sorted(set.intersection(*({row[run.clock] for row in run.evaluations}
                                      for run in all_runs)))
    def returns(run):
        by_step = {row[run.clock]: row["return_mean"] for row in run.evaluations}
        return [by_step[step] for step in steps]
    seeds = len(by_game[games[0]])
    return steps, [[returns(by_game[game][i]) for game in games] for i in range(seeds)]


def _game_summary(runs: list[Run], normalize: Normalization) -> dict:
    """Final returns, and the mean over seeds of each diagnostic every run logged."""
    returns = [run.metrics["eval_return_mean"] for run in runs]
    finals = {key: [run.final(key) for run in runs] for key, _ in DIAGNOSTICS}
    return {"return_mean": float(np.mean(returns)), "return_std": float(np.std(returns)),
            "normalized_mean": float(np.mean(normalize(returns))),
            "final_diagnostics": {key: float(np.mean(values)) for key, values in finals.items()
                                  if None not in values}}
