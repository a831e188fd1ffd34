"""Offline continuous control: D4RL-layout datasets, their generation, and pruned BC / TD3+BC
trained on Pendulum-v1."""

import json
import os

import gymnasium as gym
import h5py
import numpy as np
import pytest

import cli
from tfprune_rl.settings import config_with
from tfprune_rl.export import saved_kernels
from tfprune_rl.offline import DatasetError
from tfprune_rl.offline.transitions import (
    FIELDS, MANIFEST, References, Transitions, load_transitions,
)
from tfprune_rl.sweeps import expand, log_path, parse_grid, run_dir
from tfprune_rl.continuous.config import GenerationConfig
from tfprune_rl.continuous.datasets import KINDS, generate_datasets

CONTINUOUS = "tfprune_rl.train_continuous"


def _random_transitions(size=40, seed=0) -> Transitions:
    rng = np.random.default_rng(seed)
    terminals, timeouts = np.zeros(size, bool), np.zeros(size, bool)
    terminals[9], timeouts[24], timeouts[-1] = True, True, True
    return Transitions(rng.normal(size=(size, 3)).astype(np.float32),
                       rng.uniform(-1, 1, (size, 2)).astype(np.float32),
                       rng.normal(size=size).astype(np.float32),
                       rng.normal(size=(size, 3)).astype(np.float32), terminals, timeouts)


def _assert_equal(a: Transitions, b: Transitions):
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def test_npz_round_trip_with_references(tmp_path):
    data = _random_transitions()
    data.save(str(tmp_path / "medium.npz"))
    (tmp_path / MANIFEST).write_text(json.dumps({"reference_returns": {"random": -10.0,
                                                                       "expert": 30.0}}))
    loaded, references = load_transitions(str(tmp_path / "medium.npz"))
    _assert_equal(loaded, data)
    assert references == References(-10.0, 30.0)
    assert references.normalize(10.0) == pytest.approx(50.0)
    assert references.normalize(-10.0) == 0.0 and references.normalize(30.0) == 100.0
    returns = loaded.episode_returns()
    assert len(returns) == 3
    np.testing.assert_allclose(returns, [data.rewards[:10].sum(), data.rewards[10:25].sum(),
                                         data.rewards[25:].sum()], rtol=1e-5)
    assert not [name for name in os.listdir(tmp_path) if ".tmp-" in name]


def test_d4rl_hdf5_without_next_observations_is_read_as_d4rl_v0(tmp_path):
    """D4RL v0 files have no next_observations: the next row is the next observation, and each
    episode's last row (a timeout, not terminal) is dropped; a terminal row is kept."""
    data = _random_transitions()
    path = str(tmp_path / "hopper-medium-v0.hdf5")
    with h5py.File(path, "w") as f:
        for name in ("observations", "actions", "rewards", "terminals", "timeouts"):
            f[name] = getattr(data, name)
        f["infos/qpos"] = np.zeros((len(data), 2))  # D4RL's extra keys are ignored
    loaded, references = load_transitions(path)
    assert references is None
    kept = ~data.timeouts
    np.testing.assert_array_equal(loaded.observations, data.observations[kept])
    np.testing.assert_array_equal(loaded.next_observations[:9], data.observations[1:10])
    assert len(loaded) == len(data) - 2 and loaded.terminals.sum() == 1
    path_v2 = str(tmp_path / "hopper-medium-v2.hdf5")
    with h5py.File(path_v2, "w") as f:
        for name in FIELDS:
            f[name] = getattr(data, name)
    _assert_equal(load_transitions(path_v2)[0], data)


def test_minari_directory_is_read_episode_by_episode(tmp_path):
    rng = np.random.default_rng(4)
    lengths = [5, 7]
    os.makedirs(tmp_path / "data")
    with h5py.File(tmp_path / "data" / "main_data.hdf5", "w") as f:
        episodes = []
        for i, length in enumerate(lengths):
            group = f.create_group(f"episode_{i}")
            observations = rng.normal(size=(length + 1, 3))
            group["observations"] = observations
            group["actions"] = rng.uniform(-1, 1, (length, 2))
            group["rewards"] = np.arange(length, dtype=np.float64)
            group["terminations"] = np.arange(length) == length - 1 if i == 0 else np.zeros(length, bool)
            group["truncations"] = np.zeros(length, bool) if i == 0 else np.arange(length) == length - 1
            episodes.append(observations)
    loaded, _ = load_transitions(str(tmp_path))
    assert len(loaded) == 12
    np.testing.assert_allclose(loaded.observations[5:], episodes[1][:-1], rtol=1e-6)
    np.testing.assert_allclose(loaded.next_observations[:5], episodes[0][1:], rtol=1e-6)
    assert loaded.terminals.tolist() == [False] * 4 + [True] + [False] * 7
    assert loaded.timeouts[-1] and loaded.episode_returns() == [10.0, 21.0]


def test_bad_datasets_are_named(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_transitions(str(tmp_path / "none.npz"))
    np.savez(tmp_path / "partial.npz", observations=np.zeros((3, 2)), actions=np.zeros((3, 1)))
    with pytest.raises(DatasetError, match="lacks rewards, terminals"):
        load_transitions(str(tmp_path / "partial.npz"))
    _random_transitions().save(str(tmp_path / "whole.npz"))
    with open(tmp_path / "whole.npz", "rb") as f:
        head = f.read(300)
    (tmp_path / "cut.npz").write_bytes(head)
    with pytest.raises(DatasetError, match="cut.npz is corrupted or truncated"):
        load_transitions(str(tmp_path / "cut.npz"))
    (tmp_path / "data.csv").write_text("1,2\n")
    with pytest.raises(DatasetError, match="not a .npz or .hdf5 file"):
        load_transitions(str(tmp_path / "data.csv"))


@pytest.mark.slow
def test_generated_datasets_have_d4rl_layout_and_references(tmp_path):
    config = GenerationConfig("Pendulum-v1", str(tmp_path / "pendulum"), train_steps=600,
                              dataset_size=450, random_steps=300, log_interval=300)
    lines = []
    manifest = generate_datasets(config, log=lines.append)
    with open(tmp_path / "pendulum" / MANIFEST) as f:
        assert json.load(f) == manifest
    assert sorted(manifest["datasets"]) == sorted(KINDS)
    sizes = {"random": 450, "medium": 450, "expert": 450, "medium-replay": 300}
    for kind in KINDS:
        data, references = load_transitions(str(tmp_path / "pendulum" / f"{kind}.npz"))
        assert len(data) == sizes[kind] == manifest["datasets"][kind]["transitions"]
        assert data.observations.shape == (sizes[kind], 3) and data.actions.shape[1] == 1
        assert np.all(np.abs(data.actions) <= 2.0)
        # Pendulum never terminates: episodes end at its 200-step limit, and the dataset's
        # last transition is cut as a timeout too.
        assert not data.terminals.any()
        assert np.flatnonzero(data.timeouts).tolist() == [
            i for i in range(sizes[kind]) if (i + 1) % 200 == 0 or i == sizes[kind] - 1]
        within = ~data.timeouts[:-1]
        np.testing.assert_array_equal(data.next_observations[:-1][within],
                                      data.observations[1:][within])
        returns = data.episode_returns()
        assert manifest["datasets"][kind]["mean_return"] == pytest.approx(np.mean(returns))
        assert references == References(manifest["datasets"]["random"]["mean_return"],
                                        manifest["datasets"]["expert"]["mean_return"])
    assert any(line.startswith("sac steps 600/600") for line in lines)
    with pytest.raises(ValueError, match="already holds datasets"):
        generate_datasets(config, log=lines.append)


def _swing_up(observation, rng):
    """A hand-written Pendulum controller (energy pumping, then PD near the top), with noise:
    the 'medium' behavior the test dataset is made of."""
    cos, sin, velocity = observation
    if cos > 0.85:
        torque = -(8.0 * np.arctan2(sin, cos) + 1.5 * velocity)
    else:
        energy = 0.5 * velocity ** 2 + 15.0 * cos  # 15 at rest upright
        torque = 0.5 * (15.0 - energy) * (1.0 if velocity >= 0 else -1.0)
    return np.clip([torque + rng.normal()], -2.0, 2.0).astype(np.float32)


def _episodes(env, policy, count, seed):
    rows = {name: [] for name in FIELDS}
    returns = []
    for episode in range(count):
        observation, _ = env.reset(seed=seed + episode)
        done, total = False, 0.0
        while not done:
            action = policy(observation)
            next_observation, reward, terminated, truncated, _ = env.step(action)
            for name, value in zip(FIELDS, (observation, action, reward, next_observation,
                                            terminated, truncated)):
                rows[name].append(value)
            total += reward
            observation, done = next_observation, terminated or truncated
        returns.append(total)
    return Transitions(**{name: np.asarray(v) for name, v in rows.items()}), returns


@pytest.mark.slow
def test_pendulum_bc_and_td3_bc_with_a_95_percent_snip_mask_beat_random(tmp_path):
    env = gym.make("Pendulum-v1")
    rng = np.random.default_rng(0)
    data, behavior = _episodes(env, lambda o: _swing_up(o, rng), 20, seed=100)
    env.action_space.seed(0)
    _, random_returns = _episodes(env, lambda o: env.action_space.sample(), 10, seed=200)
    data.save(str(tmp_path / "medium.npz"))
    (tmp_path / MANIFEST).write_text(json.dumps({"reference_returns": {
        "random": float(np.mean(random_returns)), "expert": float(np.mean(behavior))}}))
    common = [f"--dataset={tmp_path / 'medium.npz'}", "--env=Pendulum-v1", "--sparsity=0.95",
              "--pruning=snip", "--eval_episodes=5", "--log_interval=500",
              "--checkpoint_interval=1000"]
    runs = {"bc": 2000, "td3_bc": 3000}
    processes = {agent: cli.start(f"--root_dir={tmp_path / agent}", f"--agent={agent}",
                                  f"--num_updates={updates}", f"--eval_interval={updates}",
                                  *common, module=CONTINUOUS)
                 for agent, updates in runs.items()}
    logs = {agent: cli.finish(process) for agent, process in processes.items()}
    random_mean = float(np.mean(random_returns))
    assert random_mean < -900  # a uniformly random policy only swings
    for agent in runs:
        metrics = cli.metrics(tmp_path / agent)
        assert "snip masks before the first update: actor 0.9500 sparse" in logs[agent]
        # Random ~ -1,200, the behavior ~ -135: half-way in normalized score at least.
        assert metrics["eval_return_mean"] > random_mean + 0.5 * (np.mean(behavior) - random_mean), (
            agent, metrics["eval_returns"], random_mean)
        assert metrics["normalized_score"] > 50
        kernels = saved_kernels(str(tmp_path / agent / "export" / "saved_model"))
        zeros = sum(int(np.sum(k == 0)) for k in kernels.values())
        size = sum(k.size for k in kernels.values())
        assert zeros / size == pytest.approx(0.95, abs=1e-3)
        assert metrics["network_sparsity"]["actor"] == pytest.approx(0.95, abs=1e-3)
    assert cli.metrics(tmp_path / "td3_bc")["network_sparsity"]["critic"] == pytest.approx(
        0.95, abs=1e-3)
    # The actor export, played through serving_default on the run's evaluation seeds.
    played = cli.run(str(tmp_path / "bc" / "export"), "--episodes=5", module="tfprune_rl.play_cli")
    assert played.returncode == 0, played.stderr
    returns = [float(line.split()[-1]) for line in played.stdout.splitlines()
               if line.startswith("episode ")]
    assert returns == pytest.approx(cli.metrics(tmp_path / "bc")["eval_returns"], rel=1e-4)


@pytest.mark.slow
def test_the_sweep_tool_runs_continuous_trials(tmp_path):
    """tfprune-sweep --trainer=continuous: every trial checked with the continuous trainer's
    flags before any starts, then run as `python -m tfprune_rl.train_continuous`."""
    env = gym.make("Pendulum-v1")
    env.action_space.seed(0)
    data, _ = _episodes(env, lambda o: env.action_space.sample(), 2, seed=0)
    data.save(str(tmp_path / "data.npz"))
    flagfile = tmp_path / "trainer.flags"
    flagfile.write_text(f"--dataset={tmp_path / 'data.npz'}\n--agent=bc\n--num_updates=200\n"
                        "--eval_interval=200\n--eval_episodes=1\n--log_interval=100\n"
                        "--hidden_units=32,32\n--reference_returns=-1200,-150\n")
    sweep = [f"--root_dir={tmp_path / 'sweep'}", "--trainer=continuous",
             f"--trainer_flagfile={flagfile}", "--games=Pendulum-v1", "--seeds=1",
             "--parallel=2"]
    bad = cli.run(*sweep, "--grid=pruning=snip,obd", module="tfprune_rl.sweep_cli")
    assert bad.returncode != 0 and not os.path.exists(tmp_path / "sweep")
    assert "unknown pruning method 'obd'; choose one of gmp, static" in bad.stderr
    result = cli.run(*sweep, "--grid=sparsity=0,0.9", "--grid=pruning=grasp",
                     module="tfprune_rl.sweep_cli")
    assert result.returncode == 0, result.stderr[-2000:]
    trials = expand(["Pendulum-v1"], parse_grid(["sparsity=0,0.9", "pruning=grasp"]), 1)
    for trial in trials:
        metrics = cli.metrics(run_dir(str(tmp_path / "sweep"), trial))
        assert metrics["agent"] == "bc" and metrics["train_steps"] == 200
        assert metrics["sparsity"] == pytest.approx(float(dict(trial.params)["sparsity"]),
                                                    abs=1e-3)
        assert metrics["normalized_score"] == pytest.approx(
            100 * (metrics["eval_return_mean"] + 1200) / 1050)
        with open(log_path(str(tmp_path / "sweep"), trial)) as f:
            assert "python -m tfprune_rl.train_continuous --flagfile=" in f.readline()


@pytest.mark.slow
def test_a_resumed_td3_bc_run_ends_bit_identical_to_a_straight_one(tmp_path):
    """Masks, targets, optimizers, the update counter and the RNG of the target-policy noise
    are all in the checkpoint, and batches are drawn by (seed, update): stopping at update 200
    and going on to 300 gives the straight 300-update run's actor and evaluations."""
    import tensorflow as tf

    from tfprune_rl.continuous.config import ContinuousConfig
    from tfprune_rl.continuous.trainer import train_continuous

    env = gym.make("Pendulum-v1")
    env.action_space.seed(1)
    data, _ = _episodes(env, lambda o: env.action_space.sample(), 2, seed=0)
    data.save(str(tmp_path / "data.npz"))

    def run(root, updates):
        config = config_with(ContinuousConfig,
            root_dir=str(tmp_path / root), dataset=str(tmp_path / "data.npz"),
            env="Pendulum-v1", agent="td3_bc", sparsity=0.9, pruning="grasp",
            saliency_batches=2, num_updates=updates, batch_size=32, hidden_units=(16, 16),
            eval_interval=100, eval_episodes=1, log_interval=100, checkpoint_interval=100)
        return train_continuous(config, log=lambda line: None)

    straight = run("straight", 300)
    run("resumed", 200)
    resumed = run("resumed", 300)
    assert resumed["eval_returns"] == straight["eval_returns"]
    assert resumed["train_steps"] == straight["train_steps"] == 300

    def exported(root):
        return saved_kernels(str(tmp_path / root / "export" / "saved_model"))

    for name, kernel in exported("straight").items():
        np.testing.assert_array_equal(kernel, exported("resumed")[name], err_msg=name)

    def evaluations(root):
        with open(tmp_path / root / "evaluations.jsonl") as f:
            return [json.loads(line) for line in f]

    assert evaluations("resumed") == evaluations("straight")
    assert [row["update"] for row in evaluations("straight")] == [100, 200, 300]
    assert tf.train.latest_checkpoint(str(tmp_path / "resumed" / "checkpoints")).endswith("-300")


@pytest.mark.slow
def test_bad_input_fails_in_one_line_and_writes_nothing(tmp_path):
    bad_env = cli.run("--env=CartPole-v1", f"--output_dir={tmp_path / 'out'}",
                      module="tfprune_rl.datasets_cli")
    assert bad_env.returncode != 0 and not os.path.exists(tmp_path / "out")
    [line] = bad_env.stderr.strip().splitlines()[-1:]
    assert line.startswith("tfprune-datasets: error: env 'CartPole-v1' has action space Discrete(2)")
    _random_transitions().save(str(tmp_path / "three_features.npz"))  # Pendulum's, actions 2-d
    wrong = cli.run(f"--root_dir={tmp_path / 'run'}", "--env=HalfCheetah-v5",
                    f"--dataset={tmp_path / 'three_features.npz'}", module=CONTINUOUS)
    assert wrong.returncode != 0 and not os.path.exists(tmp_path / "run")
    assert wrong.stderr.strip().splitlines()[-1] == (
        f"tfprune-train-continuous: error: dataset {tmp_path / 'three_features.npz'} has "
        "observations (3,) and actions (2,); the env has (17,) and (6,)")


@pytest.mark.slow
@pytest.mark.parametrize("agent", ["sac", "td3_bc"])
def test_gradual_magnitude_pruning_reaches_its_sparsity_on_both_networks(tmp_path, agent):
    """--pruning=gmp: no mask at initialization, then the value-based paper's schedule (20% to
    80% of the updates, every 1,000) prunes each kernel to the target; TD3's actor, which
    trains every other update, too."""
    from tfprune_rl.continuous.config import ContinuousConfig
    from tfprune_rl.continuous.trainer import train_continuous

    _random_transitions(size=300).save(str(tmp_path / "data.npz"))
    lines = []
    config = config_with(ContinuousConfig,
        root_dir=str(tmp_path / "run"), dataset=str(tmp_path / "data.npz"), env="Pendulum-v1",
        agent=agent, sparsity=0.8, pruning="gmp", num_updates=2500, batch_size=16,
        hidden_units=(16, 16), eval_interval=2500, eval_episodes=1, log_interval=500,
        checkpoint_interval=2500, reference_returns=(-1200.0, -150.0))
    with pytest.raises(DatasetError, match=r"has observations \(3,\) and actions \(2,\)"):
        train_continuous(config, log=lines.append)
    data = _random_transitions(size=300)
    data = Transitions(data.observations, data.actions[:, :1], data.rewards,
                       data.next_observations, data.terminals, data.timeouts)
    data.save(str(tmp_path / "data.npz"))
    metrics = train_continuous(config, log=lines.append)
    assert not any("masks before the first update" in line for line in lines)
    # Masks change at updates 500 (the schedule's start: sparsity 0) and 1,500 (its last
    # step within 80%: the target); progress lines come every 500 updates.
    progress = [line.split("| sparsity ")[1].split() for line in lines if line.startswith("updates ")]
    np.testing.assert_allclose([(float(p[1]), float(p[3])) for p in progress],
                               [(0.0, 0.0), (0.0, 0.0), (0.8, 0.8), (0.8, 0.8), (0.8, 0.8)],
                               atol=2e-3)
    assert metrics["network_sparsity"] == pytest.approx({"actor": 0.8, "critic": 0.8}, abs=1e-3)
    kernels = saved_kernels(str(tmp_path / "run" / "export" / "saved_model"))
    assert all(np.mean(k == 0) == pytest.approx(0.8, abs=0.02) for k in kernels.values())


@pytest.mark.slow
def test_online_sac_and_td3_with_90_percent_gmp_swing_up_pendulum(tmp_path):
    """Online, 10k env steps (1k random), 128-128 networks pruned to 90% (ERK) from update 1,800
    to 7,200: both evaluations at full sparsity (env steps 9k, 10k) are above -400. A uniformly
    random policy scores about -1,200 and never swings the pendulum up; -400 over 200 steps
    needs it swung up and held on most episodes (the trained policies here score about -80)."""
    common = ["--mode=online", "--env=Pendulum-v1", "--num_env_steps=10000",
              "--learning_starts=1000", "--hidden_units=128,128", "--sparsity=0.9",
              "--pruning=gmp", "--sparsity_distribution=erk", "--eval_interval=1000",
              "--eval_episodes=5", "--log_interval=1000", "--checkpoint_interval=5000"]
    agents = ("sac", "td3")
    processes = {agent: cli.start(f"--root_dir={tmp_path / agent}", f"--agent={agent}", *common,
                                  module=CONTINUOUS) for agent in agents}
    logs = {agent: cli.finish(process) for agent, process in processes.items()}
    for agent in agents:
        assert logs[agent].splitlines()[0].startswith(
            f"{agent} on Pendulum-v1, mlp 128-128 x1, 90% sparse (gmp), 10,000 env steps, online")
        with open(tmp_path / agent / "evaluations.jsonl") as f:
            returns = {row["env_step"]: row["return_mean"] for row in map(json.loads, f)}
        assert min(returns[9000], returns[10000]) > -400, (agent, returns)
        metrics = cli.metrics(tmp_path / agent)
        assert metrics["network_sparsity"] == pytest.approx({"actor": 0.9, "critic": 0.9},
                                                            abs=2e-3)
        assert (metrics["mode"], metrics["env_steps"], metrics["train_steps"]) == (
            "online", 10_000, 9_000)
        kernels = saved_kernels(str(tmp_path / agent / "export" / "saved_model"))
        zeros = sum(int(np.sum(k == 0)) for k in kernels.values())
        assert zeros / sum(k.size for k in kernels.values()) == pytest.approx(0.9, abs=2e-3)


@pytest.mark.slow
def test_a_killed_online_sac_run_resumes_with_its_replay_and_generators(tmp_path):
    """Stopped after its checkpoint at env step 1,000 and resumed, an online SAC run ends with
    the uninterrupted run's counters, sparsity, replay size and agent generator: every step
    draws the same numbers, so the generator matches only if the checkpoint held it, and the
    replay holds every transition only if it was restored (the restart begins a new episode,
    so the weights differ)."""
    from tfprune_rl.continuous.trainer import train_continuous
    from tfprune_rl.continuous.config import ContinuousConfig

    def config(root):
        return config_with(ContinuousConfig,
            root_dir=str(tmp_path / root), mode="online", env="Pendulum-v1", agent="sac",
            sparsity=0.9, pruning="gmp", sparsity_distribution="erk", num_env_steps=2000,
            learning_starts=500, batch_size=32, hidden_units=(16, 16), eval_interval=2000,
            eval_episodes=1, log_interval=500, checkpoint_interval=1000,
            pruning_frequency=100)

    def saved(root):
        generator = cli.checkpointed(tmp_path / root, "agent/rng/")
        with np.load(str(tmp_path / root / "checkpoints" / "replay-2000.npz")) as replay:
            return generator, replay["added"].tolist()

    straight = train_continuous(config("straight"), log=lambda line: None)
    with pytest.raises(cli.Stop):
        train_continuous(config("killed"), log=cli.stop_at("env steps 1,500/"))
    lines = []
    resumed = train_continuous(config("killed"), log=lines.append)
    assert "resumed from env step 1,000" in lines[0]
    assert saved("killed") == saved("straight")
    assert saved("straight")[1] == [2010]  # 2,000 steps and 10 episodes' last observations
    for key in ("env_steps", "train_steps", "network_sparsity"):
        assert resumed[key] == straight[key]
    assert resumed["network_sparsity"] == pytest.approx({"actor": 0.9, "critic": 0.9}, abs=2e-3)
