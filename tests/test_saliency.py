"""Single-shot saliency (SNIP, GraSP) and the fixed masks it installs."""

import numpy as np
import pytest
import tensorflow as tf
from tf_agents.specs import tensor_spec

from tfprune_rl.agents.continuous import ContinuousHyperparams, Td3BcAgent
from tfprune_rl.networks.actor_critic import ActorNetwork, CriticNetwork
from tfprune_rl.offline.transitions import Transitions
from tfprune_rl.pruning import FixedSparsity, PruningConfig, create_updater, masked_kernels
from tfprune_rl.pruning.algorithms.saliency import global_masks

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


def _updater(method: str, sparsity: float = 0.95):
    return create_updater(PruningConfig(sparsity, 100, method=method, saliency_batches=2))


def test_snip_and_grasp_scores_equal_hand_computed_values():
    kernels = [tf.Variable(W1, dtype=tf.float32), tf.Variable(W2, dtype=tf.float32)]
    g = [np.mean(parts, axis=0) for parts in zip(*(_gradient(W1, W2, *b) for b in BATCHES))]
    snip = _updater("snip").scores(kernels, _loss(kernels), BATCHES)
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
    grasp = _updater("grasp").scores(kernels, _loss(kernels), BATCHES)
    for score, hg, weight in zip(grasp, hessian_g, (W1, W2)):
        np.testing.assert_allclose(score, weight * hg, rtol=1e-3, atol=1e-5)
    assert not np.allclose(grasp[0], snip[0])  # H g is not g
    with pytest.raises(ValueError, match="needs at least one batch"):
        _updater("snip").scores(kernels, _loss(kernels), [])


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


def _td3_bc_agent(updater):
    observation_spec = tf.TensorSpec((3,), tf.float32)
    action_spec = tensor_spec.BoundedTensorSpec((1,), tf.float32, -2.0, 2.0)
    net = dict(hidden_units=(32, 32), layer_transform=updater.wrap)
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
    """As the continuous trainer does it: each network scored with its own loss."""
    updater = _updater(method)
    agent = _td3_bc_agent(updater)
    transitions = _transitions()
    rng = np.random.default_rng(1)
    batches = [{k: tf.constant(v) for k, v in transitions.sample(64, rng).items()}
               for _ in range(2)]
    losses = agent.network_losses()
    masks = {}
    for name, net in agent.networks.items():
        kernels = masked_kernels(net.stack)
        assert len(kernels) == len(net.stack)  # every kernel is wrapped: the ranking is global
        updater.initialize(kernels, losses[name], batches)
        masks[name] = [k.mask.numpy().copy() for k in kernels]
        total = sum(m.size for m in masks[name])
        assert sum(m.sum() for m in masks[name]) == round(total * 0.05)
        assert all(isinstance(k.schedule, FixedSparsity) for k in kernels)
        assert updater.update_steps() == range(0)
    train = tf.function(agent.train)
    for step in range(30):
        batch = {k: tf.constant(v) for k, v in transitions.sample(64, rng).items()}
        train(batch, step % 2 == 0)
    for name, net in agent.networks.items():
        for kernel, mask in zip(masked_kernels(net.stack), masks[name]):
            np.testing.assert_array_equal(kernel.mask.numpy(), mask)
            assert np.all(kernel.kernel.numpy()[mask == 0] == 0.0)  # exactly zero, not small
            assert np.all(kernel.kernel.numpy()[mask == 1] != 0.0)
    assert agent.updates.numpy() == 30


@pytest.mark.parametrize("method", ["snip", "grasp"])
def test_saliency_changes_no_weight_and_no_optimizer_state(method):
    updater = _updater(method)
    agent = _td3_bc_agent(updater)
    transitions = _transitions()
    rng = np.random.default_rng(3)
    batch = {k: tf.constant(v) for k, v in transitions.sample(64, rng).items()}
    tf.function(agent.train)(batch, True)  # optimizer state is no longer all zeros

    def state():
        variables = [*agent.variables] + [v for o in agent.optimizers.values() for v in o.variables]
        return {v.name + str(i): v.numpy().copy() for i, v in enumerate(variables)}

    before = state()
    assert len(before) > 20
    for name, loss in agent.network_losses().items():
        kernels = [k.kernel for k in masked_kernels(agent.networks[name].stack)]
        updater.scores(kernels, loss, [batch, batch])
    after = state()
    assert before.keys() == after.keys()
    for key in before:
        np.testing.assert_array_equal(before[key], after[key], err_msg=key)
