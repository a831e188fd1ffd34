"""Flags as the entry points parse them: every preset in experiments/ (sweeps included) gives
valid run configurations, a run reads back from its flags.txt, and a bad value is refused with
a message naming it and what is allowed."""

import dataclasses
import glob
import os
import re

import pytest
from absl import flags

from conftest import REPO_ROOT
from tfprune_rl.entry_points import (
    TRAINERS, load_run_config, run_flag_values,
)
from tfprune_rl.envs import make_gym_env
from tfprune_rl.lazy import load
from tfprune_rl.sweeps import expand, parse_grid, read_games
from tfprune_rl.lifecycle.run_dir import claim_run_dir

EXPERIMENTS = os.path.join(REPO_ROOT, "experiments")
AGENT_PRESETS = sorted(glob.glob(os.path.join(EXPERIMENTS, "*", "*.flags")))


def _config(*args, trainer: str = "value_based"):
    values = flags.FlagValues()
    TRAINERS[trainer].define_flags(values)
    values([TRAINERS[trainer].module, *args])
    return TRAINERS[trainer].config_from_flags(values)


@pytest.mark.parametrize("preset, agent, learning_rate, n_step", [
    ("dqn", "dqn", 6.25e-5, 1), ("rainbow_lite", "c51", 6.25e-5, 3),
    ("iqn", "iqn", 5e-5, 3), ("m_iqn", "m_iqn", 5e-5, 3)])
@pytest.mark.parametrize("encoder, width", [("nature", 1), ("impala", 5)])
def test_atari_presets(preset, agent, learning_rate, n_step, encoder, width):
    config = _config(f"--flagfile={EXPERIMENTS}/atari/{preset}.flags",
                     f"--flagfile={EXPERIMENTS}/atari/budget_40m_frames.flags",
                     "--env=ALE/Pong-v5", f"--encoder={encoder}", f"--width={width}",
                     "--sparsity=0.95")
    assert (config.agent, config.hparams.learning_rate, config.n_step) == (
        agent, learning_rate, n_step)
    # Dopamine's target sync every 8,000 agent steps, in updates (one per 4 steps).
    assert config.hparams.target_update_period == 2000 and config.update_period == 4
    assert config.num_env_steps == 10_000_000 and config.sticky_actions
    assert config.total_updates == 2_495_000  # updates from step 20k to 10M, one per 4 steps
    assert config.pruning.schedule.window(config.total_updates) == (499_000, 1_996_000)


@pytest.mark.parametrize("agent", ["der", "drq_eps"])
@pytest.mark.parametrize("long_run", [False, True])
def test_atari100k_presets_are_each_papers_setting(agent, long_run):
    budget = [f"--flagfile={EXPERIMENTS}/atari100k/budget_40m_frames.flags"] if long_run else []
    config = _config(f"--flagfile={EXPERIMENTS}/atari100k/{agent}.flags", *budget,
                     "--env=ALE/Pong-v5", "--encoder=nature")
    der = agent == "der"
    assert config.agent == ("c51" if der else "double_dqn")
    assert config.augmentation == ("none" if der else "random_shift")
    assert config.replay_scheme == ("prioritized" if der else "uniform")
    assert config.hparams.target_update_period == (2000 if der else 1)
    assert config.epsilon_decay_steps == (2000 if der else 5000)
    assert (config.n_step, config.update_period, config.learning_starts) == (10, 1, 1600)
    assert (config.hparams.learning_rate, config.hparams.adam_epsilon) == (1e-4, 1.5e-4)
    assert not config.sticky_actions
    steps = 10_000_000 if long_run else 100_000
    assert config.num_env_steps == steps and config.total_updates == steps - 1600
    assert config.replay_capacity == (1_000_000 if long_run else 100_000)


def test_online_sac_preset_is_the_papers_setting():
    config = _config(f"--flagfile={EXPERIMENTS}/continuous/sac_online.flags", "--env=Ant-v5",
                     "--width=5", "--sparsity=0.95", trainer="continuous")
    assert (config.online, config.agent, config.pruning.method, config.width) == (True, "sac", "gmp", 5)
    assert (config.num_env_steps, config.learning_starts, config.update_period) == (
        1_000_000, 10_000, 1)
    assert (config.batch_size, tuple(config.hidden_units)) == (256, (256, 256))
    assert config.total_updates == 990_000
    assert config.pruning.schedule.window(config.total_updates) == (198_000, 792_000)
    for task in read_games([f"{EXPERIMENTS}/continuous/mujoco_online_tasks.txt"]):
        load(TRAINERS["continuous"].make_env)(task).close()


@pytest.mark.parametrize("agent", ["dqn", "rainbow_lite"])
def test_minatar_presets(agent):
    config = _config(f"--flagfile={EXPERIMENTS}/minatar/{agent}.flags",
                     "--env=MinAtar/Breakout-v1", "--width=3")
    assert config.encoder == "minatar" and config.pruning.sparsity == 0.95
    assert config.n_step == (3 if agent == "rainbow_lite" else 1)


@pytest.mark.parametrize("suite", ["atari", "atari100k", "minatar"])
def test_game_lists_name_envs_that_exist(suite):
    with open(os.path.join(EXPERIMENTS, suite, "games.txt")) as f:
        games = [line.strip() for line in f if line.strip() and not line.startswith("#")]
    assert len(set(games)) == len(games) == {"atari": 15, "atari100k": 26, "minatar": 5}[suite]
    if suite == "atari":  # the paper's list (arXiv 2402.12479v3)
        assert {game.split("/")[1][:-3] for game in games} == {
            "MsPacman", "Pong", "Qbert", "Assault", "Asterix", "BeamRider", "Boxing",
            "Breakout", "CrazyClimber", "DemonAttack", "Enduro", "FishingDerby",
            "SpaceInvaders", "Tutankham", "VideoPinball"}
    for game in games:
        make_gym_env(game).close()


@pytest.mark.parametrize("baseline, setting", [
    ("weight_decay", {"hparams": {"weight_decay": 1e-5}}),
    ("l2_normalize", {"l2_normalize": True}),
    ("redo", {"redo_tau": 0.1, "redo_period": 1000}),
    ("reset", {"reset_period": 100_000}),
])
def test_baseline_presets_change_only_their_own_settings(baseline, setting):
    base = [f"--flagfile={EXPERIMENTS}/atari/dqn.flags",
            f"--flagfile={EXPERIMENTS}/atari/budget_40m_frames.flags", "--env=ALE/Pong-v5"]
    plain = _config(*base)
    config = _config(*base, f"--flagfile={EXPERIMENTS}/baselines/{baseline}.flags")
    expected = {name: (dataclasses.replace(getattr(plain, name), **value)
                       if isinstance(value, dict) else value) for name, value in setting.items()}
    assert config == dataclasses.replace(plain, **expected)


def test_minatar_cpu_budget_shortens_training_only():
    base = [f"--flagfile={EXPERIMENTS}/minatar/dqn.flags", "--env=MinAtar/Breakout-v1"]
    plain = _config(*base)
    config = _config(*base, f"--flagfile={EXPERIMENTS}/minatar/budget_75k.flags")
    assert config == dataclasses.replace(
        plain, num_env_steps=75_000, epsilon_decay_steps=25_000, eval_interval=15_000,
        checkpoint_interval=15_000, log_interval=5_000)
    config = _config(*base, f"--flagfile={EXPERIMENTS}/minatar/budget_50k.flags")
    assert config == dataclasses.replace(
        plain, num_env_steps=50_000, epsilon_decay_steps=25_000, eval_interval=10_000,
        checkpoint_interval=10_000, log_interval=5_000)


@pytest.mark.parametrize("agent", ["cql", "cql_c51"])
def test_atari_offline_presets_are_the_papers_setting(agent):
    config = _config(f"--flagfile={EXPERIMENTS}/offline/atari_{agent}.flags",
                     "--env=ALE/Pong-v5", "--width=3")
    assert config.offline and config.agent == agent and config.hparams.cql_alpha == 0.1
    assert config.num_updates == 200 * 62_500 and config.eval_interval == 62_500
    assert config.dataset_fraction == 0.05
    assert config.dataset_path == "dqn-replay/Pong/1/replay_logs"
    assert config.n_step == (3 if agent == "cql_c51" else 1)
    assert config.pruning.schedule.window(config.total_updates) == (2_500_000, 10_000_000)


def test_minatar_offline_preset_reads_each_games_recorded_dataset():
    config = _config(f"--flagfile={EXPERIMENTS}/offline/minatar_cql.flags",
                     f"--flagfile={EXPERIMENTS}/offline/minatar_datasets.flags",
                     "--env=MinAtar/Seaquest-v1")
    assert config.offline and config.agent == "cql" and config.encoder == "minatar"
    assert config.num_updates == 25_000 and config.pruning.sparsity == 0.95
    assert config.dataset_path == "runs/minatar-datasets/Seaquest/dataset"


SWEEP_TRIALS = {"atari_width_dqn": 450, "atari_width_rainbow_lite": 450,
                "atari_sparsity_dqn": 300, "minatar_width_dqn": 150, "minatar_width_small": 16,
                "atari_offline_cql": 340, "atari_offline_cql_c51": 340,
                "minatar_offline_cql": 120, "mujoco_single_shot": 900, "mujoco_dense": 45,
                "atari_methods_dqn": 900, "minatar_methods_small": 24,
                "minatar_methods_dense_small": 6, "atari_width_iqn": 300,
                "atari_width_m_iqn": 300, "atari100k_der": 520, "atari100k_drq_eps": 520,
                "atari40m_der": 300, "atari40m_drq_eps": 300, "mujoco_sac_online": 100,
                "minatar_envs_check": 12, "minatar_width_study": 54}


@pytest.mark.parametrize("name", sorted(SWEEP_TRIALS))
def test_sweep_presets_define_valid_trials(name, monkeypatch):
    """Every grid point and game (seed 0) parses as a trainer run, as tfprune-sweep checks."""
    monkeypatch.chdir(REPO_ROOT)  # the presets name files relative to the repository
    with open(os.path.join(EXPERIMENTS, "sweeps", f"{name}.flags")) as f:
        entries = [line.strip()[2:].split("=", 1) for line in f if line.startswith("--")]
    values = {key: [value for k, value in entries if k == key] for key, _ in entries}
    trials = expand(read_games(values["games"][0].split(",")), parse_grid(values["grid"]),
                    int(values["seeds"][0]))
    assert len(trials) == SWEEP_TRIALS[name]
    trainer = values.get("trainer", ["value_based"])[0]
    configs = [_config(*trial.trainer_args(values["trainer_flagfile"], "/sweep"), trainer=trainer)
               for trial in trials if trial.seed == 0]
    if name == "mujoco_single_shot":  # the grid, its dense point in mujoco_dense
        assert {config.pruning.sparsity for config in configs} == {0.5, 0.8, 0.9, 0.95, 0.99}
        assert {config.pruning.method for config in configs} == {"snip", "grasp", "static", "gmp"}
        assert {config.agent for config in configs} == {"bc", "td3_bc", "cql_sac"}
    elif name in ("atari_methods_dqn", "minatar_methods_small"):  # dense: another preset
        assert {config.pruning.sparsity for config in configs} == {0.95}
        assert {config.pruning.method for config in configs} == {"gmp", "static", "set", "rigl"}
    elif name in ("mujoco_dense", "minatar_methods_dense_small"):
        assert {config.pruning.sparsity for config in configs} == {0.0}
    else:
        assert {config.pruning.sparsity for config in configs} >= {0.0, 0.95}
    assert len({config.env_id for config in configs}) in (1, 2, 3, 5, 15, 17, 26)


def test_every_preset_file_is_covered():
    covered = {"dqn", "rainbow_lite", "iqn", "m_iqn", "der", "drq_eps", "budget_40m_frames",
               "budget_75k", "budget_50k", "sac_online",
               "weight_decay", "l2_normalize", "redo", "reset", "atari_cql", "atari_cql_c51",
               "minatar_cql", "minatar_datasets", "paper", "budget_cpu", "datasets",
               *SWEEP_TRIALS}
    assert {os.path.basename(path)[:-len(".flags")] for path in AGENT_PRESETS} == covered


@pytest.mark.parametrize("flag, message", [
    ("--sparsity=-0.1", "sparsity=-0.1 must be in [0, 1)"),
    ("--width=0", "width=0 must be >= 1"),
    ("--agent=c52", "unknown agent 'c52'; choose one of dqn, double_dqn, c51"),
    ("--encoder=resnet", "unknown encoder 'resnet'; choose one of mlp, minatar, nature, impala"),
    ("--replay_scheme=greedy", "unknown replay scheme 'greedy'; choose one of uniform, prioritized"),
    ("--num_envs=3", "num_env_steps=50000 must be a multiple of num_envs=3"),
    ("--n_step=0", "n_step=0 must be >= 1"),
    ("--v_max=0", "v_max=0.0 must be > 0"),
    ("--weight_decay=-1e-5", "weight_decay=-1e-05 must be >= 0"),
    ("--redo_period=-1", "redo_period=-1 must be >= 0 (0 turns it off)"),
    ("--reset_period=-5", "reset_period=-5 must be >= 0 (0 turns it off)"),
    ("--redo_tau=-0.1", "redo_tau=-0.1 must be >= 0"),
    ("--diagnostics_period=0", "diagnostics_period=0 must be >= 1"),
    ("--mode=batch", "unknown mode 'batch'; choose one of online, offline"),
    ("--mode=offline", "--mode=offline needs --dataset=PATH"),
    ("--dataset=data", "dataset=data is read by --mode=offline only; this run is online"),
    ("--mode=offline --dataset=data --record_dataset",
     "record_dataset=True is for online runs; offline runs need record_dataset=False"),
    ("--mode=offline --dataset=data --replay_scheme=prioritized",
     "replay_scheme=prioritized is for online runs; offline runs need replay_scheme=uniform"),
    ("--mode=offline --dataset=data --dataset_fraction=0",
     "dataset_fraction=0.0 must be in (0, 1]"),
    ("--mode=offline --dataset=data --num_updates=0", "num_updates=0 must be >= 1"),
    ("--cql_alpha=-1", "cql_alpha=-1.0 must be >= 0"),
    ("--pruning=obd", "unknown pruning method 'obd'; choose one of gmp, static, snip, grasp"),
    ("--pruning=lottery", "--pruning=lottery needs --mask_from=RUN_DIR"),
    ("--pruning=set --drop_fraction=0", "drop_fraction=0.0 must be in (0, 1]"),
    ("--pruning=rigl --regrow_end=1.5", "regrow_end=1.5 must be a fraction of training"),
    ("--saliency_batches=0", "saliency_batches=0 must be >= 1"),
])
def test_bad_flag_values_name_the_value_and_what_is_allowed(flag, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        _config(*flag.split())



def test_continuous_presets_are_td3_bc_with_a_95_percent_snip_mask():
    config = _config(f"--flagfile={EXPERIMENTS}/continuous/paper.flags",
                     f"--flagfile={EXPERIMENTS}/continuous/datasets.flags", "--env=Hopper-v5",
                     trainer="continuous")
    assert (config.num_updates, config.batch_size, tuple(config.hidden_units)) == (
        1_000_000, 256, (256, 256))
    assert (config.pruning.sparsity, config.pruning.method, config.pruning.saliency_batches) == (0.95, "snip", 1)
    assert (config.eval_interval, config.eval_episodes) == (5_000, 10)
    assert config.dataset_path == "datasets/Hopper/medium.npz"
    budget = _config(f"--flagfile={EXPERIMENTS}/continuous/paper.flags",
                     f"--flagfile={EXPERIMENTS}/continuous/budget_cpu.flags", "--dataset=d.npz",
                     trainer="continuous")
    assert dataclasses.replace(budget, num_updates=1_000_000, checkpoint_interval=50_000,
                               dataset=config.dataset, env_id="Hopper-v5") == config
    for task in read_games([f"{EXPERIMENTS}/continuous/mujoco_tasks.txt"]):
        load(TRAINERS["continuous"].make_env)(task).close()


@pytest.mark.parametrize("flag, message", [
    ("--agent=ppo", "unknown agent 'ppo'; choose one of bc, td3, td3_bc, sac, cql_sac"),
    ("--mode=online --agent=td3_bc --dataset=",
     "agent td3_bc learns from a dataset; --mode=online trains sac or td3"),
    ("--mode=online --agent=sac", "dataset=d.npz is read by --mode=offline only"),
    ("--mode=online --agent=sac --dataset= --num_env_steps=5000",
     "num_env_steps=5000 leaves no gradient update after learning_starts=10000"),
    ("--pruning=obd", "unknown pruning method 'obd'; choose one of gmp, static, snip"),
    ("--sparsity=1", "sparsity=1.0 must be in [0, 1)"),
    ("--num_updates=0", "num_updates=0 must be >= 1"),
    ("--saliency_batches=0", "saliency_batches=0 must be >= 1"),
    ("--hidden_units=256,0", "hidden_units=[256, 0] must be positive sizes"),
    ("--reference_returns=1", "reference_returns=1.0 must be two different returns: random,expert"),
    ("--reference_returns=a,b", "reference_returns=a,b must be numbers"),
    ("--dataset=", "--mode=offline needs --dataset"),
])
def test_bad_continuous_flag_values_are_named(flag, message):
    args = ["--dataset=d.npz", *flag.split()]
    with pytest.raises((ValueError, flags.Error), match=re.escape(message)):
        _config(*args, trainer="continuous")


def test_a_moved_run_reads_back_from_its_flags_txt(tmp_path):
    values = flags.FlagValues()
    names = TRAINERS["value_based"].define_flags(values)
    values(["tfprune-train", f"--root_dir={tmp_path / 'run'}", "--agent=c51", "--nosticky_actions",
            "--hidden_units=32,16", "--sparsity=0.9", "--pruning_start=0.1", "--v_max=5"])
    config = TRAINERS["value_based"].config_from_flags(values)
    claim_run_dir(config.root_dir, run_flag_values(values, names))
    os.rename(tmp_path / "run", tmp_path / "moved")
    moved = str(tmp_path / "moved")
    assert load_run_config(moved) == dataclasses.replace(config, root_dir=moved)


def test_readme_flag_tables_are_made_from_the_declarations():
    from tools.flag_tables import README, readme_with_tables

    with open(README) as f:
        text = f.read()
    assert "| `--pruning_frequency` | `1000` |" in text
    assert text == readme_with_tables(text), "README is stale: run python tools/flag_tables.py"
