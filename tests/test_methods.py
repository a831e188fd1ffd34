"""The sparse training methods of the registry, against values worked out by hand, and in the
trainers: static, SET, RigL, the lottery ticket, and a method registered by the test."""

import json
import os

import gymnasium as gym
import numpy as np
import pytest
import tensorflow as tf

import cli
from tfprune_rl.settings import config_with
from tfprune_rl import pruning
from tfprune_rl.export import saved_kernels
from tfprune_rl.offline.transitions import Transitions
from tfprune_rl.pruning.select import keep_largest
from tfprune_rl.lifecycle.runner import run
from tfprune_rl.value_based import TrainConfig, train, value_based_trainer
from tfprune_rl.continuous.trainer import ContinuousTrainer, train_continuous
from tfprune_rl.continuous.config import ContinuousConfig

W = np.array([[0.9, 0.0, -0.1, 0.0],
              [0.0, 0.5, 0.0, -0.3],
              [0.05, 0.0, 0.7, 0.0]], np.float32)
G = np.array([[10.0, 0.2, 10.0, -2.0],  # the kept weights' gradients are large: never grown
              [0.01, 10.0, 1.5, 10.0],
              [10.0, -0.3, 10.0, 0.05]], np.float32)


def _kernel(method: str, weights: np.ndarray, sparsity: float, seed: int = 0, **fields):
    """One wrapped dense kernel holding `weights`, masked where they are zero."""
    config = pruning.PruningConfig(sparsity, 1000, "uniform", pruning.PolynomialSchedule(
        frequency=100), method=method, seed=seed, **fields)
    updater = pruning.create_updater(config)
    layer = tf.keras.layers.Dense(weights.shape[1])
    layer.build((None, weights.shape[0]))
    (wrapper,) = updater.wrap([layer])
    wrapper.build((None, weights.shape[0]))
    (kernel,) = pruning.masked_kernels([wrapper])
    layer.kernel.assign(weights)
    kernel.mask.assign((weights != 0).astype(np.float32))
    return updater, kernel


def _drop_fraction(step, initial=0.3, end=750):
    return initial / 2 * (1 + np.cos(np.pi * step / end))


def test_rigl_drops_the_smallest_kept_and_grows_the_largest_gradients_at_zero():
    """6 of 12 kept; at step 100 the cosine gives 0.3 / 2 * (1 + cos(pi * 100 / 750)) = 0.287
    of 6 kept = 2 moved: the kept 0.05 and -0.1 go, the pruned positions with |g| 2.0 and 1.5
    come in at 0. Adam's moments are zero wherever the new mask differs from the old."""
    updater, kernel = _kernel("rigl", W, 0.5)
    optimizer = pruning.MaskedAdam(1e-2, masked_kernels=[kernel])
    for _ in range(2):
        optimizer.apply_gradients([(tf.constant(G), kernel.kernel)])
    kernel.kernel.assign(W)  # the hand-worked weights again; the moments stay
    moments = optimizer.moments(kernel.kernel)
    assert all(np.all((m.numpy() != 0) == (W != 0)) for m in moments)

    assert round(_drop_fraction(100) * 6) == 2
    updater.update([kernel], 100, lambda batch: tf.reduce_sum(kernel.kernel * G), None)
    optimizer.zero_pruned_moments()
    expected = np.array([[1, 0, 0, 1], [0, 1, 1, 1], [0, 0, 1, 0]], np.float32)
    np.testing.assert_array_equal(kernel.mask.numpy(), expected)
    np.testing.assert_array_equal(kernel.kernel.numpy(), W * [[1, 0, 0, 0], [0, 1, 0, 1],
                                                              [0, 0, 1, 0]])
    assert float(kernel.threshold.numpy()) == 0.0  # the grown weights are kept at 0
    for moment in moments:
        kept_through = expected * (W != 0)
        assert np.all((moment.numpy() != 0) == (kept_through > 0))


def test_rigl_moves_the_cosine_fraction_at_three_steps_and_keeps_the_count():
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(20, 20)).astype(np.float32)
    weights[rng.random(weights.shape) < 0.5] = 0.0
    gradient = tf.constant(rng.normal(size=weights.shape).astype(np.float32))
    for step in (100, 400, 700):
        updater, kernel = _kernel("rigl", weights, 0.5)
        kept = int(np.sum(weights != 0))
        updater.update([kernel], step, lambda batch: tf.reduce_sum(kernel.kernel * gradient))
        mask = kernel.mask.numpy()
        dropped = np.sum((weights != 0) & (mask == 0))
        grown = np.sum((weights == 0) & (mask == 1))
        assert dropped == grown == round(_drop_fraction(step) * kept), step
        assert mask.sum() == kept


def test_set_regrows_as_many_as_it_drops_at_seeded_random_pruned_positions():
    rng = np.random.default_rng(1)
    weights = rng.normal(size=(20, 20)).astype(np.float32)
    weights[rng.random(weights.shape) < 0.9] = 0.0
    kept = int(np.sum(weights != 0))
    moved = round(_drop_fraction(100) * kept)
    grown = {}
    for seed in (0, 0, 1):
        updater, kernel = _kernel("set", weights, 0.9, seed=seed)
        updater.update([kernel], 100)
        mask = kernel.mask.numpy() > 0
        dropped = (weights != 0) & ~mask
        assert dropped.sum() == moved and mask.sum() == kept
        smallest_kept = np.sort(np.abs(weights[weights != 0]))[:moved]
        np.testing.assert_array_equal(np.sort(np.abs(weights[dropped])), smallest_kept)
        new = mask & (weights == 0)
        assert new.sum() == moved and np.all(kernel.kernel.numpy()[new] == 0)
        grown.setdefault(seed, []).append(new)
    np.testing.assert_array_equal(*grown[0])  # reproducible from the seed
    assert not np.array_equal(grown[0][0], grown[1][0])


def test_static_erk_masks_match_the_erk_targets_and_never_move():
    shapes = [(8, 64), (64, 64), (64, 4)]
    layers = [tf.keras.layers.Dense(units) for _, units in shapes]
    for layer, (inputs, _) in zip(layers, shapes):
        layer.build((None, inputs))
    updater = pruning.create_updater(pruning.PruningConfig(0.9, 1000, "erk", method="static"))
    wrapped = updater.wrap(layers)
    for wrapper, (inputs, _) in zip(wrapped, shapes):
        wrapper.build((None, inputs))
    kernels = pruning.masked_kernels(wrapped)
    targets = pruning.layer_sparsities(shapes, 0.9, "erk")
    assert [k.target for k in kernels] == [t for t in targets if t > 0]
    updater.initialize(kernels)
    masks = [k.mask.numpy().copy() for k in kernels]
    for mask, kernel in zip(masks, kernels):
        assert abs(np.sum(mask == 0) - kernel.target * mask.size) <= 1
    assert updater.update_steps() == range(0)
    optimizer = pruning.MaskedAdam(1e-2, masked_kernels=kernels)
    x = tf.random.normal((16, 8))
    for _ in range(5):
        with tf.GradientTape() as tape:
            y = x
            for layer in layers:
                y = tf.nn.relu(layer(y))
            loss = tf.reduce_sum(tf.square(y - 1.0))
        variables = [v for layer in layers for v in layer.trainable_variables]
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
    for mask, kernel in zip(masks, kernels):
        np.testing.assert_array_equal(kernel.mask.numpy(), mask)
        assert np.all(kernel.kernel.numpy()[mask == 0] == 0)


def test_unknown_method_and_a_lottery_without_its_source_are_refused():
    with pytest.raises(ValueError, match="unknown pruning method 'obd'; choose one of gmp"):
        config_with(TrainConfig, root_dir="unused", pruning="obd")
    with pytest.raises(ValueError, match="--pruning=lottery needs --mask_from=RUN_DIR"):
        config_with(TrainConfig, root_dir="unused", pruning="lottery")
    with pytest.raises(ValueError, match="mask_from=runs/a is read by --pruning=lottery only"):
        config_with(TrainConfig, root_dir="unused", mask_from="runs/a")
    with pytest.raises(ValueError, match="regrow_end=0.01 with frequency 1000 leaves no mask"):
        config_with(TrainConfig, root_dir="unused", pruning="rigl", regrow_end=0.01)


class OneShotMagnitude(pruning.Updater):
    """The test's own method: every kernel pruned once to its target by magnitude, at half of
    training."""

    def new_masks(self, kernels, step, gradients):
        return [keep_largest(tf.abs(k.kernel), k.mask > 0,
                             round(k.kernel.shape.num_elements() * (1 - k.target)))
                for k in kernels]


CARTPOLE = dict(num_env_steps=1200, learning_starts=400, eval_interval=1200, eval_episodes=1,
                checkpoint_interval=600, log_interval=600, diagnostics_period=200,
                pruning_frequency=100)


@pytest.fixture(scope="module")
def gmp_source(tmp_path_factory):
    """A finished gmp run, the lottery ticket's source; with its initial weights."""
    config = config_with(TrainConfig, root_dir=str(tmp_path_factory.mktemp("source")), seed=3, **CARTPOLE)
    trainer = value_based_trainer(config, log=lambda line: None)
    initial = [v.numpy().copy() for v in trainer.q_network.variables]
    run(trainer, log=lambda line: None)
    masks = [k.mask.numpy().copy() for k in trainer.kernels]
    return config.root_dir, initial, masks


def test_a_registered_method_trains_and_prunes_once_at_its_step(tmp_path, monkeypatch):
    monkeypatch.setitem(pruning.METHODS, "one_shot_magnitude",
                       pruning.Method(OneShotMagnitude, lambda config: pruning.OneShot(0.5)))
    config = config_with(TrainConfig, root_dir=str(tmp_path / "run"), pruning="one_shot_magnitude",
                         sparsity=0.9, **CARTPOLE)
    metrics = train(config, log=lambda line: None)
    assert metrics["pruning"] == "one_shot_magnitude"
    with open(tmp_path / "run" / "diagnostics.jsonl") as f:
        rows = [json.loads(line) for line in f]
    assert [row["update"] for row in rows] == [200, 400, 600, 800]
    # Half of the 800 updates: pruned after update 400, and never before.
    assert [row["sparsity/total"] > 0.5 for row in rows] == [False, True, True, True]
    for row in rows[1:]:
        assert row["sparsity/total"] == pytest.approx(0.9, abs=1e-3)
    kernels = saved_kernels(str(tmp_path / "run" / "export" / "saved_model"))
    assert sum(np.sum(k == 0) for k in kernels.values()) == pytest.approx(
        0.9 * sum(k.size for k in kernels.values()), abs=3)


@pytest.mark.parametrize("method", ["static", "snip", "grasp", "set", "rigl"])
def test_every_method_trains_a_value_based_agent_to_its_sparsity(tmp_path, method):
    """Masks at the per-layer targets within one weight (the global one for SNIP and GraSP);
    every pruned weight zero in the exported files (a kept weight may be zero too: SET grows
    some from dead units, which never get a gradient)."""
    config = config_with(TrainConfig, root_dir=str(tmp_path / method), pruning=method, sparsity=0.9,
                         **CARTPOLE)
    lines = []
    trainer = value_based_trainer(config, log=lines.append)
    run(trainer, log=lines.append)
    assert f"{method} masks at the first update: 0.9" in "\n".join(lines)
    masks = [k.mask.numpy() for k in trainer.kernels]
    pruned = [int(np.sum(mask == 0)) for mask in masks]
    if method in ("snip", "grasp"):
        assert abs(sum(pruned) - round(0.9 * sum(m.size for m in masks))) <= 1
    else:
        for count, kernel, mask in zip(pruned, trainer.kernels, masks):
            assert abs(count - round(kernel.target * mask.size)) <= 1, kernel.name
    exported = saved_kernels(str(tmp_path / method / "export" / "saved_model"))
    for kernel, mask in zip(trainer.kernels, masks):
        assert np.all(exported[kernel.name][mask == 0] == 0)


def test_lottery_ticket_is_the_source_initialization_times_its_final_masks(tmp_path, gmp_source):
    source_dir, initial, masks = gmp_source
    config = config_with(TrainConfig, root_dir=str(tmp_path / "ticket"), pruning="lottery", sparsity=0.95,
                         mask_from=source_dir, seed=0, **CARTPOLE)
    trainer = value_based_trainer(config, log=lambda line: None)
    for ours, theirs in zip(trainer.q_network.variables, initial):
        np.testing.assert_array_equal(ours.numpy(), theirs)  # rewound, whatever our seed
    trainer._initialize_masks()  # pylint: disable=protected-access
    for kernel, mask in zip(trainer.kernels, masks):
        np.testing.assert_array_equal(kernel.mask.numpy(), mask)
    by_name = {v.name: value for v, value in zip(trainer.q_network.variables, initial)}
    for kernel, mask in zip(trainer.kernels, masks):
        np.testing.assert_array_equal(kernel.kernel.numpy(), by_name[kernel.kernel.name] * mask)
    metrics = run(trainer, log=lambda line: None)
    assert metrics["sparsity"] == pytest.approx(0.95, abs=2e-3)
    for kernel, mask in zip(trainer.kernels, masks):  # the masks never moved
        np.testing.assert_array_equal(kernel.mask.numpy(), mask)

    wider = config_with(TrainConfig, root_dir=str(tmp_path / "wider"), pruning="lottery", width=2,
                        mask_from=source_dir, **CARTPOLE)
    with pytest.raises(ValueError, match="its checkpoint does not fit this run's networks"):
        value_based_trainer(wider, log=lambda line: None)._initialize_masks()  # pylint: disable=protected-access
    with pytest.raises(ValueError, match="is not a finished run"):
        value_based_trainer(config_with(TrainConfig, root_dir=str(tmp_path / "x"), pruning="lottery",
                                      mask_from=str(tmp_path / "ticket2"), **CARTPOLE))


@pytest.fixture(scope="module")
def pendulum_data(tmp_path_factory):
    env = gym.make("Pendulum-v1")
    env.action_space.seed(1)
    rows = {"observations": [], "actions": [], "rewards": [], "next_observations": [],
            "terminals": [], "timeouts": []}
    for episode in range(2):
        observation, _ = env.reset(seed=episode)
        done = False
        while not done:
            action = env.action_space.sample()
            next_observation, reward, terminated, truncated, _ = env.step(action)
            for name, value in zip(rows, (observation, action, reward, next_observation,
                                          terminated, truncated)):
                rows[name].append(value)
            observation, done = next_observation, terminated or truncated
    path = str(tmp_path_factory.mktemp("pendulum") / "data.npz")
    Transitions(*(np.asarray(v) for v in rows.values())).save(path)
    return path


@pytest.mark.parametrize("method", ["set", "rigl"])
def test_a_killed_continuous_run_resumes_to_the_uninterrupted_masks_and_weights(
        tmp_path, pendulum_data, method):
    """Stopped at update 150 (checkpoint at 100, mask updates at 50, 100, 150, 200), resumed:
    the mask updates after the checkpoint redo the same draws and gradient batches."""
    def config(root):
        return config_with(ContinuousConfig,
            root_dir=str(tmp_path / root), dataset=pendulum_data, env="Pendulum-v1",
            agent="bc", sparsity=0.9, pruning=method, num_updates=300, batch_size=32,
            hidden_units=(16, 16), eval_interval=300, eval_episodes=1, log_interval=50,
            checkpoint_interval=100, pruning_frequency=50)

    straight = train_continuous(config("straight"), log=lambda line: None)
    with pytest.raises(cli.Stop):
        train_continuous(config("killed"), log=cli.stop_at("updates 150/"))
    resumed = train_continuous(config("killed"), log=lambda line: None)
    assert resumed["eval_returns"] == straight["eval_returns"]
    exported = {root: saved_kernels(str(tmp_path / root / "export" / "saved_model"))
                for root in ("straight", "killed")}
    for name, kernel in exported["straight"].items():
        np.testing.assert_array_equal(kernel, exported["killed"][name], err_msg=name)
    assert os.path.exists(tmp_path / "killed" / "metrics.json")


def test_a_continuous_lottery_ticket_rewinds_every_network_to_its_source(tmp_path,
                                                                        pendulum_data):
    def config(root, **fields):
        return config_with(ContinuousConfig,
            root_dir=str(tmp_path / root), dataset=pendulum_data, env="Pendulum-v1",
            agent="td3_bc", sparsity=0.9, num_updates=100, batch_size=32, hidden_units=(16, 16),
            eval_interval=100, eval_episodes=1, log_interval=100, checkpoint_interval=100,
            **fields)

    source = ContinuousTrainer(config("source", pruning="static", seed=5), log=lambda line: None)
    initial = {name: [v.numpy().copy() for v in net.variables]
               for name, net in source.agent.networks.items()}
    run(source, log=lambda line: None)
    ticket = ContinuousTrainer(config("ticket", pruning="lottery",
                                      mask_from=str(tmp_path / "source")), log=lambda line: None)
    for name, net in ticket.agent.networks.items():
        for ours, theirs in zip(net.variables, initial[name]):
            np.testing.assert_array_equal(ours.numpy(), theirs)
    own_seed = ContinuousTrainer(config("own", pruning="static"), log=lambda line: None)
    assert not np.array_equal(own_seed.agent.actor.variables[0].numpy(), initial["actor"][0])
    ticket.start(0)
    ticket.advance()  # masks come right before the first update
    for name, kernels in ticket.kernels.items():
        for ours, theirs in zip(kernels, source.kernels[name]):
            np.testing.assert_array_equal(ours.mask.numpy(), theirs.mask.numpy())
            assert np.all(ours.kernel.numpy()[ours.mask.numpy() == 0] == 0)
