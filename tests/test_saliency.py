"""Single-shot saliency (SNIP, GraSP, random, magnitude) and fixed masks."""

import numpy as np
import pytest
import tensorflow as tf
from tf_agents.specs import tensor_spec

from tfprune_rl.agents.continuous import ContinuousHyperparams, Td3BcAgent
from tfprune_rl.networks.actor_critic import ActorNetwork, CriticNetwork
from tfprune_rl.offline.transitions import Transitions
from tfprune_rl.pruning.saliency import (
    FixedMask, global_masks, install_masks, saliency_scores, wrap_fixed,
)
from tfprune_rl.training.continuous_config import ContinuousConfig
from tfprune_rl.training.continuous import prune_at_initialization

RNG = np.random.default_rng(0)
W1 = RNG.normal(size=(3, 4))
W2 = RNG.normal(size=(4, 2))
BATCHES = [(RNG.normal(size=(5, 3)), RNG.normal(size=(5, 2))) for _ in range(2)]


def _gradient(w1, w2, x, t):
    """0.5 * mean over the batch of ||x W1 W2 - t||^2, differentiated by hand."""
    residual = x @ w1 @ w2 - t
    return [x.T @ (residual @ w2.T) / len(x), (x @ w1).T @ residual / len(x)]


def _loss(kernels):
    def loss(batch):
        x, t = (tf.constant(a, tf.float32) for a in batch)
        y = tf.matmul(tf.matmul(x, kernels[0]), kernels[1])
        return 0.5 * tf.reduce_mean(tf.reduce_sum(tf.square(y - t), axis=1))
    return loss


def test_snip_and_grasp_scores_equal_hand_computed_values():
    kernels = [tf.Variable(W1, dtype=tf.float32), tf.Variable(W2, dtype=tf.float32)]
    g = [np.mean(parts, axis=0) for parts in zip(*(_gradient(W1, W2, *b) for b in BATCHES))]
    snip = saliency_scores("snip", kernels, _loss(kernels), BATCHES)
    for score, gradient, weight in zip(snip, g, (W1, W2)):
        np.testing.assert_allclose(score, np.abs(gradient * weight), rtol=1e-4, atol=1e-6)
    # H g per batch by central differences of the hand-written gradient (the loss is a
    # polynomial of degree 4, so the error is O(eps^2)), averaged over the batches.
    eps = 1e-4
    hessian_g = [np.zeros_like(W1), np.zeros_like(W2)]
    for batch in BATCHES:
        plus = _gradient(W1 + eps * g[0], W2 + eps * g[1], *batch)
        minus = _gradient(W1 - eps * g[0], W2 - eps * g[1], *batch)
        for total, p, m in zip(hessian_g, plus, minus):
            total += (p - m) / (2 * eps) / len(BATCHES)
    grasp = saliency_scores("grasp", kernels, _loss(kernels), BATCHES)
    for score, hg, weight in zip(grasp, hessian_g, (W1, W2)):
        np.testing.assert_allclose(score, weight * hg, rtol=1e-3, atol=1e-5)
    assert not np.allclose(grasp[0], snip[0])  # H g is not g
    magnitude = saliency_scores("magnitude", kernels, _loss(kernels), [])
    np.testing.assert_allclose(magnitude[1], np.abs(W2), rtol=1e-6)
    random_a, random_b = (saliency_scores("random", kernels, None, [], seed=s) for s in (1, 2))
    assert random_a[0].shape == W1.shape and not np.array_equal(random_a[0], random_b[0])
    with pytest.raises(ValueError, match="unknown saliency method 'obd'"):
        saliency_scores("obd", kernels, _loss(kernels), BATCHES)


def test_global_masks_keep_the_top_scores_over_all_kernels():
    scores = [np.arange(12.0).reshape(3, 4), np.arange(12.0, 20.0).reshape(4, 2) * 10]
    masks = global_masks(scores, 0.75)  # 20 weights, keep 5: all in the second kernel
    assert sum(m.sum() for m in masks) == 5
    assert masks[0].sum() == 0 and masks[1].ravel().tolist() == [0, 0, 0, 1, 1, 1, 1, 1]
    sizes = [(256, 256), (17, 256), (256, 6)]
    masks = global_masks([RNG.random(s) for s in sizes], 0.95)
    kept = sum(m.sum() for m in masks)
    assert kept == round(sum(np.prod(s) for s in sizes) * 0.05)
    with pytest.raises(ValueError, match="sparsity=1.0 must be in"):
        global_masks(scores, 1.0)


def _td3_bc_agent(sparsity: float):
    observation_spec = tf.TensorSpec((3,), tf.float32)
    action_spec = tensor_spec.BoundedTensorSpec((1,), tf.float32, -2.0, 2.0)
    net = dict(hidden_units=(32, 32), layer_transform=wrap_fixed if sparsity else None)
    return Td3BcAgent(ActorNetwork(observation_spec, action_spec, **net),
                      CriticNetwork((observation_spec, action_spec), **net),
                      ContinuousHyperparams(), seed=0)


def _transitions(size=512):
    rng = np.random.default_rng(1)
    observations = rng.normal(size=(size, 3)).astype(np.float32)
    return Transitions(observations, rng.uniform(-2, 2, (size, 1)).astype(np.float32),
                       rng.normal(size=size).astype(np.float32),
                       rng.normal(size=(size, 3)).astype(np.float32),
                       np.zeros(size, bool), np.zeros(size, bool))


@pytest.mark.parametrize("method", ["snip", "grasp"])
def test_installed_mask_has_the_global_sparsity_and_never_moves(method):
    agent = _td3_bc_agent(0.95)
    transitions = _transitions()
    config = ContinuousConfig(root_dir="unused", dataset="unused", sparsity=0.95, pruning=method,
                              saliency_batches=2, batch_size=64)
    sparsities = prune_at_initialization(agent, config, transitions)
    assert set(sparsities) == {"actor", "critic"}
    masks = {}
    for name in ("actor", "critic"):
        wrappers = agent.wrappers(name)
        masks[name] = [w.pruning_vars[0][1].numpy().copy() for w in wrappers]
        total = sum(m.size for m in masks[name])
        assert sum(m.sum() for m in masks[name]) == round(total * 0.05)
        assert all(isinstance(w.pruning_schedule, FixedMask) for w in wrappers)
    train = tf.function(agent.train)
    rng = np.random.default_rng(2)
    for step in range(30):
        batch = {k: tf.constant(v) for k, v in transitions.sample(64, rng).items()}
        train(batch, step % 2 == 0)
    for name in ("actor", "critic"):
        for wrapper, mask in zip(agent.wrappers(name), masks[name]):
            kernel, mask_variable, _ = wrapper.pruning_vars[0]
            np.testing.assert_array_equal(mask_variable.numpy(), mask)
            assert np.all(kernel.numpy()[mask == 0] == 0.0)  # exactly zero, not small
            assert np.all(kernel.numpy()[mask == 1] != 0.0)
    assert agent.updates.numpy() == 30


@pytest.mark.parametrize("method", ["snip", "grasp"])
def test_saliency_changes_no_weight_and_no_optimizer_state(method):
    agent = _td3_bc_agent(0.95)
    transitions = _transitions()
    rng = np.random.default_rng(3)
    batch = {k: tf.constant(v) for k, v in transitions.sample(64, rng).items()}
    tf.function(agent.train)(batch, True)  # optimizer state is no longer all zeros

    def state():
        variables = [*agent.variables] + [v for o in agent.optimizers.values() for v in o.variables]
        return {v.name + str(i): v.numpy().copy() for i, v in enumerate(variables)}

    before = state()
    assert len(before) > 20
    for name, loss in agent.saliency_losses().items():
        kernels = [w.pruning_vars[0][0] for w in agent.wrappers(name)]
        saliency_scores(method, kernels, loss, [batch, batch])
    after = state()
    assert before.keys() == after.keys()
    for key in before:
        np.testing.assert_array_equal(before[key], after[key], err_msg=key)


def test_install_masks_zeroes_pruned_weights_and_reports_the_sparsity():
    agent = _td3_bc_agent(0.95)
    wrappers = agent.wrappers("actor")
    masks = [np.zeros(w.pruning_vars[0][0].shape, np.float32) for w in wrappers]
    for m in masks:
        m.ravel()[: m.size // 2] = 1.0
    install_masks(wrappers, masks)
    for wrapper, mask in zip(wrappers, masks):
        assert np.all(wrapper.pruning_vars[0][0].numpy()[mask == 0] == 0)
        assert wrapper.pruning_schedule.final_sparsity == pytest.approx(1 - mask.mean())
