"""Aggregation and figures, on run directories written by the test: normalization, rliable's
own estimates, the report files, and the PNGs read back as images."""

import csv
import json
import os

import matplotlib.image
import numpy as np
import pytest
from rliable import library, metrics

from tfprune_rl.analysis import (
    FILES, RLIABLE_DEFAULT_REPS, Normalization, aggregate, draw_all, interval_estimates, iqm,
    load_runs, references, report,
)
from tfprune_rl.analysis.aggregate import group_runs, normalizations
from tfprune_rl.analysis.report import markdown

GAMES = ("MinAtar/Breakout-v1", "MinAtar/SpaceInvaders-v1")
STEPS = (15_000, 30_000, 45_000)


def _write_run(root, env_id, width, sparsity, seed, final_return, finished=True, offline=False,
               pruning="gmp", agent="dqn"):
    """A run directory as the trainer leaves it, with returns that grow to `final_return`.
    Offline runs collect no env steps: their rows count updates."""
    path = os.path.join(root, env_id.replace("/", "-"),
                        f"{agent}-w{width}-s{sparsity}-{pruning}", f"seed{seed}")
    os.makedirs(path)
    with open(os.path.join(path, "flags.txt"), "w") as f:
        f.write(f"--root_dir={path}\n--env={env_id}\n--seed={seed}\n--width={width}\n"
                f"--sparsity={sparsity}\n--pruning={pruning}\n--agent={agent}\n"
                + ("--mode=offline\n--dataset=data\n" if offline else ""))
    if not finished:
        return
    with open(os.path.join(path, "metrics.json"), "w") as f:
        json.dump({"eval_return_mean": final_return, "mode": "offline" if offline else "online"},
                  f)
    with open(os.path.join(path, "evaluations.jsonl"), "w") as f:
        for i, step in enumerate(STEPS):
            value = final_return * (i + 1) / len(STEPS)
            f.write(json.dumps({"env_step": 0 if offline else step, "update": step // 4,
                                "return_mean": value, "returns": [value]}) + "\n")
    with open(os.path.join(path, "diagnostics.jsonl"), "w") as f:
        for i, step in enumerate(STEPS):
            f.write(json.dumps({"env_step": 0 if offline else step, "update": step // 4,
                                "diagnostics/srank": 10.0 * width + i + seed,
                                "diagnostics/dormant_tau_0.1/all": 0.1 * i,
                                "diagnostics/param_norm": 5.0 + sparsity,
                                "diagnostics/q_norm": 1.0 + i}) + "\n")


def _returns(env_id, width, sparsity, seed):
    """Breakout rewards width when pruned and punishes it when dense, as in the paper."""
    base = 10.0 if env_id.endswith("Breakout-v1") else 30.0
    scale = (1 + 0.5 * (width - 1)) if sparsity else (1 - 0.2 * (width - 1))
    return base * scale + seed


@pytest.fixture
def sweep_root(tmp_path):
    for env_id in GAMES:
        for width in (1, 3):
            for sparsity in (0, 0.95):
                for seed in (0, 1, 2):
                    _write_run(str(tmp_path), env_id, width, sparsity, seed,
                               _returns(env_id, width, sparsity, seed))
    _write_run(str(tmp_path), GAMES[0], 1, 0, 9, 0.0, finished=False)
    return str(tmp_path)


def test_human_normalized_atari_scores_match_hand_computed_values():
    breakout = Normalization("ALE/Breakout-v5", *references("ALE/Breakout-v5", 0.0))
    assert breakout(16.1) == pytest.approx((16.1 - 1.7) / (30.5 - 1.7))  # 0.5
    assert breakout(16.1) == pytest.approx(0.5)
    pong = Normalization("ALE/Pong-v5", *references("ALE/Pong-v5", 0.0))
    assert pong(-20.7) == pytest.approx(0.0) and pong(14.6) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="no human and random scores for Atari game 'Tetris'"):
        references("ALE/Tetris-v5", 1.0)


def test_minatar_scores_run_from_random_play_to_the_best_configuration():
    zero, one, meaning = references("MinAtar/SpaceInvaders-v1", 40.0)
    assert (zero, one) == (3.97, 40.0) and "best configuration" in meaning
    assert references("CartPole-v1", 200.0)[:2] == (0.0, 200.0)
    with pytest.raises(ValueError, match="MinAtar/Breakout-v1: no configuration"):
        references("MinAtar/Breakout-v1", 0.2)


@pytest.mark.parametrize("shape", [(5, 7), (3, 2), (1, 1), (2, 2), (10, 15)])
def test_iqm_equals_rliables_on_final_scores_and_per_evaluation_point(shape):
    scores = np.random.default_rng(sum(shape)).normal(size=(*shape, 4))
    assert iqm(scores[..., 0]) == pytest.approx(metrics.aggregate_iqm(scores[..., 0]), rel=1e-12)
    np.testing.assert_allclose(
        iqm(scores), [metrics.aggregate_iqm(scores[..., t]) for t in range(4)], rtol=1e-12)


def test_interval_estimates_equal_rliables_own_on_the_same_array():
    scores = np.random.default_rng(3).gamma(2.0, 0.5, size=(5, 7))
    point, interval = interval_estimates(scores, reps=2000, seed=11)
    np.random.seed(11)  # rliable 1.2 resamples with NumPy's global generator
    own_point, own_interval = library.get_interval_estimates(
        {"x": scores}, lambda x: np.array([metrics.aggregate_iqm(x)]), reps=2000)
    assert point[0] == pytest.approx(own_point["x"][0])
    np.testing.assert_allclose(interval[:, 0], own_interval["x"][:, 0])
    assert point[1] == pytest.approx(scores.mean())
    assert point[2] == pytest.approx(np.median(scores.mean(axis=0)))
    assert point[3] == pytest.approx(np.mean(np.maximum(1 - scores, 0)))
    assert RLIABLE_DEFAULT_REPS == 50_000


def test_aggregate_groups_configurations_and_normalizes_per_game(sweep_root):
    runs, unfinished = load_runs(sweep_root)
    assert len(runs) == 24 and len(unfinished) == 1
    results, norms, incomplete = aggregate(runs, reps=500)
    assert incomplete == {}
    assert [r.label for r in results] == ["sparsity=0, width=1", "sparsity=0, width=3",
                                          "sparsity=0.95, width=1", "sparsity=0.95, width=3"]
    best_breakout = np.mean([_returns(GAMES[0], 3, 0.95, s) for s in range(3)])  # 21
    assert norms[GAMES[0]].one == pytest.approx(best_breakout)
    assert norms[GAMES[0]].zero == 0.381
    pruned_wide = results[3]
    assert pruned_wide.seeds == 3
    assert pruned_wide.per_game[GAMES[0]]["return_mean"] == pytest.approx(21.0)
    assert pruned_wide.per_game[GAMES[0]]["normalized_mean"] == pytest.approx(1.0)
    assert pruned_wide.per_game[GAMES[0]]["final_diagnostics"] == pytest.approx({
        "diagnostics/srank": 33.0,  # 10 * width + the last row's 2 + seed, over seeds 0-2
        "diagnostics/dormant_tau_0.1/all": 0.2, "diagnostics/param_norm": 5.95,
        "diagnostics/q_norm": 3.0})
    expected = np.array([[norms[g](_returns(g, 3, 0.95, s)) for g in GAMES] for s in range(3)])
    assert pruned_wide.point["iqm"] == pytest.approx(metrics.aggregate_iqm(expected))
    low, high = pruned_wide.ci["iqm"]
    assert low <= pruned_wide.point["iqm"] <= high
    assert results[1].point["iqm"] < results[0].point["iqm"] < results[3].point["iqm"]
    assert pruned_wide.curve["steps"] == list(STEPS)
    assert pruned_wide.curve["unit"] == "env steps"
    assert pruned_wide.curve["iqm"][-1] == pytest.approx(pruned_wide.point["iqm"])
    assert pruned_wide.curve["iqm"][0] == pytest.approx(pruned_wide.point["iqm"] / 3, rel=0.1)
    # The second half of 15k, 30k, 45k env steps: the evaluations at 30k (2/3 of the final
    # return) and 45k.
    later = [metrics.aggregate_iqm(np.array([[norms[g](_returns(g, 3, 0.95, s) * fraction)
                                              for g in GAMES] for s in range(3)]))
             for fraction in (2 / 3, 1)]
    assert pruned_wide.second_half_iqm == pytest.approx(np.mean(later))


def test_methods_are_configurations_and_a_dense_run_has_none(tmp_path):
    for pruning, sparsity in (("gmp", 0), ("gmp", 0.95), ("rigl", 0.95)):
        for env_id in GAMES:
            _write_run(str(tmp_path), env_id, 3, sparsity, 0, 10.0, pruning=pruning)
    results, _, _ = aggregate(load_runs(str(tmp_path))[0], reps=50)
    assert [r.label for r in results] == ["pruning=gmp, sparsity=0.95", "pruning=none, sparsity=0",
                                          "pruning=rigl, sparsity=0.95"]


def test_agents_are_configurations(tmp_path):
    for agent in ("iqn", "m_iqn"):
        for sparsity in (0, 0.95):
            for env_id in GAMES:
                _write_run(str(tmp_path), env_id, 1, sparsity, 0, 10.0, agent=agent)
    results, _, _ = aggregate(load_runs(str(tmp_path))[0], reps=50)
    assert [r.label for r in results] == ["agent=iqn, sparsity=0", "agent=iqn, sparsity=0.95",
                                          "agent=m_iqn, sparsity=0", "agent=m_iqn, sparsity=0.95"]


def test_offline_runs_are_aggregated_and_drawn_over_updates(tmp_path):
    for env_id in GAMES:
        for seed in range(2):
            _write_run(str(tmp_path), env_id, 3, 0.95, seed, _returns(env_id, 3, 0.95, seed),
                       offline=True)
    runs, _ = load_runs(str(tmp_path))
    results, _, _ = aggregate(runs, reps=200)
    assert results[0].curve["unit"] == "updates"
    assert results[0].curve["steps"] == [step // 4 for step in STEPS]
    paths = draw_all(results, runs, str(tmp_path / "figures"))
    assert sorted(os.path.basename(path) for path in paths) == [
        "diagnostics_MinAtar-Breakout-v1.png", "diagnostics_MinAtar-SpaceInvaders-v1.png",
        "sample_efficiency.png"]


def test_report_files_hold_every_configuration(sweep_root, tmp_path):
    output = str(tmp_path / "out")
    results, _, tables = report(sweep_root, output, reps=500, seed=0)
    assert sorted(os.listdir(output)) == sorted(FILES)
    with open(os.path.join(output, "aggregate.csv")) as f:
        rows = list(csv.DictReader(f))
    assert [(row["width"], row["sparsity"]) for row in rows] == [
        ("1", "0"), ("3", "0"), ("1", "0.95"), ("3", "0.95")]
    assert float(rows[3]["iqm"]) == pytest.approx(results[3].point["iqm"])
    with open(os.path.join(output, "aggregate.json")) as f:
        document = json.load(f)
    assert document["configs"][3]["ci"]["iqm"] == list(results[3].ci["iqm"])
    assert len(document["unfinished_runs"]) == 1
    row = next(line for line in tables.splitlines()
               if line.startswith("| sparsity=0.95, width=3 | 3 | "))
    assert row.endswith(f"] | {results[3].second_half_iqm:.3f} |")
    assert float(rows[3]["second_half_iqm"]) == pytest.approx(results[3].second_half_iqm)
    assert f"| sparsity=0.95, width=3 | {GAMES[0]} | 33 | 0.2 | 5.95 | 3 |" in tables
    assert tables == open(os.path.join(output, "aggregate.md")).read()


def test_configurations_unfinished_on_a_game_are_left_out_and_named(sweep_root):
    """A sweep still going: the configurations finished alike on every game are aggregated,
    the others are named with their finished runs' returns per game; with none finished alike,
    it refuses."""
    runs, unfinished = load_runs(sweep_root)
    partial = [run for run in runs if not (run.env_id == GAMES[1] and run.flags["width"] == "3"
                                           and run.flags["seed"] == "2")]
    results, norms, incomplete = aggregate(partial, reps=100)
    assert [r.label for r in results] == ["sparsity=0, width=1", "sparsity=0.95, width=1"]

    def finals(game, sparsity):
        return [run.metrics["eval_return_mean"] for run in sorted(
            partial, key=lambda run: run.flags["seed"]) if run.env_id == game
            and run.flags["width"] == "3" and run.flags["sparsity"] == sparsity]

    assert incomplete == {f"sparsity={sparsity}, width=3": {
        GAMES[0]: finals(GAMES[0], sparsity), GAMES[1]: finals(GAMES[1], sparsity)}
        for sparsity in ("0", "0.95")}
    assert [len(returns) for returns in incomplete["sparsity=0, width=3"].values()] == [3, 2]
    tables = markdown(results, norms, unfinished, incomplete, reps=100)
    assert "\nNot included, unfinished: 1 run.\n" in tables
    breakout, invaders = finals(GAMES[0], "0.95"), finals(GAMES[1], "0.95")
    assert (f"- sparsity=0.95, width=3: {GAMES[0]} {np.mean(breakout):.2f} ± "
            f"{np.std(breakout):.2f} (3 runs), {GAMES[1]} {np.mean(invaders):.2f} ± "
            f"{np.std(invaders):.2f} (2 runs)") in tables
    no_width_3_invaders = [run for run in partial
                           if not (run.env_id == GAMES[1] and run.flags["width"] == "3")]
    results, norms, incomplete = aggregate(no_width_3_invaders, reps=100)
    tables = markdown(results, norms, unfinished, incomplete, reps=100)
    assert f" (3 runs), {GAMES[1]} no run\n" in tables
    one_invader = no_width_3_invaders + [run for run in partial if run.env_id == GAMES[1]
                                         and run.flags["width"] == "3" and run.flags["seed"] == "0"]
    results, norms, incomplete = aggregate(one_invader, reps=100)
    tables = markdown(results, norms, unfinished, incomplete, reps=100)
    invader = finals(GAMES[1], "0")[0]  # seed 0
    assert f" (3 runs), {GAMES[1]} {invader:.2f} (1 run)\n" in tables  # no std over one run
    breakout_only = [run for run in runs if run.env_id == GAMES[0]]
    assert len(aggregate(breakout_only, reps=100)[0]) == 4  # one game: every configuration
    with pytest.raises(ValueError, match="no configuration has the same number of finished runs"):
        aggregate([run for run in partial if run.flags["width"] == "3"]
                  + [runs[0]], reps=100)


def test_a_report_on_some_games_reads_only_their_runs(sweep_root, tmp_path):
    output = str(tmp_path / "out")
    results, runs, tables = report(sweep_root, output, reps=100, seed=0, games=[GAMES[1]])
    assert {run.env_id for run in runs} == {GAMES[1]} and len(runs) == 12
    assert list(results[0].per_game) == [GAMES[1]]
    assert "unfinished" not in tables  # the unfinished run is on the other game
    with open(os.path.join(output, "aggregate.json")) as f:
        assert json.load(f)["unfinished_runs"] == []
    with pytest.raises(ValueError, match=r"^games MinAtar/Pong-v1: no finished run under .*; "
                                         f"it has {GAMES[0]},{GAMES[1]}$"):
        report(sweep_root, output, reps=100, seed=0, games=[GAMES[0], "MinAtar/Pong-v1"])


def test_an_empty_directory_is_refused(tmp_path):
    with pytest.raises(ValueError, match="holds no finished run"):
        load_runs(str(tmp_path))


def test_figures_are_written_at_their_size_and_not_blank(sweep_root, tmp_path):
    runs, _ = load_runs(sweep_root)
    results, _, _ = aggregate(runs, reps=200)
    paths = draw_all(results, runs, str(tmp_path))
    names = sorted(os.path.basename(path) for path in paths)
    assert names == ["diagnostics_MinAtar-Breakout-v1.png",
                     "diagnostics_MinAtar-SpaceInvaders-v1.png", "iqm_vs_sparsity.png",
                     "iqm_vs_width.png", "per_game_vs_width.png", "sample_efficiency.png"]
    sizes = {"diagnostics_MinAtar-Breakout-v1.png": (800, 1200),
             "diagnostics_MinAtar-SpaceInvaders-v1.png": (800, 1200),
             "per_game_vs_width.png": (1200, 900)}  # 5 rows (return, 4 diagnostics), 2 games
    for path in paths:
        image = matplotlib.image.imread(path)
        expected = sizes.get(os.path.basename(path), (500, 800))
        assert image.shape[:2] == expected, path
        assert image[..., :3].std() > 0.05, path  # lines and text, not an empty canvas


def test_runs_with_dataset_references_are_normalized_by_them(tmp_path):
    """Offline continuous runs carry their dataset's random and expert returns (metrics.json):
    those are 0 and 1, not the best configuration."""
    for seed, final in enumerate((1500.0, 2500.0)):
        _write_run(str(tmp_path), "HalfCheetah-v5", 1, 0.95, seed, final)
        path = os.path.join(tmp_path, "HalfCheetah-v5", "dqn-w1-s0.95-gmp", f"seed{seed}",
                            "metrics.json")
        with open(path) as f:
            metrics_json = json.load(f)
        metrics_json["reference_returns"] = {"random": -500.0, "expert": 4500.0}
        with open(path, "w") as f:
            json.dump(metrics_json, f)
    runs, _ = load_runs(str(tmp_path))
    [norm] = normalizations(group_runs(runs)[0]).values()
    assert (norm.zero, norm.one) == (-500.0, 4500.0)
    assert norm(2000.0) == pytest.approx(0.5)
    metrics_json["reference_returns"] = {"random": 0.0, "expert": 4500.0}
    with open(path, "w") as f:
        json.dump(metrics_json, f)
    runs, _ = load_runs(str(tmp_path))
    with pytest.raises(ValueError, match="HalfCheetah-v5: runs state different reference returns"):
        normalizations(group_runs(runs)[0])
