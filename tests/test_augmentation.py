"""Random-shift augmentation (DrQ): what it outputs, and that every agent and encoder trains on
it."""

import numpy as np
import pytest
import tensorflow as tf
from tf_agents.specs import tensor_spec
from tf_agents.trajectories import time_step as ts

from tfprune_rl.agents import AGENTS, DqnHyperparams, agent_spec, create_agent, make_optimizer
from tfprune_rl.networks import QNetwork
from tfprune_rl.value_based.augmentation import check_augmentation, random_shift
from tfprune_rl.value_based.learner import Learner


def _images(dtype=np.uint8, count=16):
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, size=(count, 10, 12, 3)).astype(dtype)


def _offset(image, padded) -> tuple[int, int] | None:
    """The (row, column) offset of `image` as a window of `padded`, if it is one."""
    height, width = image.shape[:2]
    for dy in range(padded.shape[0] - height + 1):
        for dx in range(padded.shape[1] - width + 1):
            if np.array_equal(padded[dy:dy + height, dx:dx + width], image):
                return dy, dx
    return None


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_random_shift_outputs_windows_of_the_edge_padded_input(dtype):
    images = _images(dtype)
    shifted = random_shift(tf.constant(images), tf.random.Generator.from_seed(1)).numpy()
    assert shifted.shape == images.shape and shifted.dtype == images.dtype
    offsets = []
    for image, output in zip(images, shifted):
        padded = np.pad(image, ((4, 4), (4, 4), (0, 0)), mode="edge")
        offsets.append(_offset(output, padded))
    assert None not in offsets  # every output is a window of its padded input
    assert len(set(offsets)) > 4  # the shift is drawn per image, within [0, 8] on each axis
    assert all(0 <= dy <= 8 and 0 <= dx <= 8 for dy, dx in offsets)


def test_random_shift_is_reproducible_from_its_seed():
    images = tf.constant(_images())

    def shifted(seed):
        return random_shift(images, tf.random.Generator.from_seed(seed)).numpy()

    np.testing.assert_array_equal(shifted(3), shifted(3))
    assert not np.array_equal(shifted(3), shifted(4))


def test_random_shift_refuses_observations_that_are_not_images():
    with pytest.raises(ValueError, match=r"augmentation 'random_shift' shifts images .* shape \(4,\)"):
        check_augmentation("random_shift", (4,))
    with pytest.raises(ValueError, match="unknown augmentation 'crop'; choose one of none, random_shift"):
        check_augmentation("crop", (10, 10, 3))


def _losses_with_and_without_shift(agent_name, encoder, shape):
    """The first update's loss on one batch, plain and shifted, from the same weights."""
    observation_spec = tf.TensorSpec(shape, tf.float32)
    action_spec = tensor_spec.BoundedTensorSpec((), tf.int64, 0, 2)
    hparams = DqnHyperparams(1e-3, 1e-8, 0.99, 5)
    tf.keras.utils.set_random_seed(0)
    network = QNetwork(observation_spec, action_spec, encoder, 1, (16,),
                       agent_spec(agent_name).head(hparams))
    agent = create_agent(agent_name, ts.time_step_spec(observation_spec), action_spec, network,
                         hparams, lambda: 0.1, tf.Variable(0, dtype=tf.int64),
                         make_optimizer(hparams))
    rng = np.random.default_rng(1)
    batch = {"observation": rng.uniform(0, 255, (8, *shape)).astype(np.float32),
             "next_observation": rng.uniform(0, 255, (8, *shape)).astype(np.float32),
             "action": rng.integers(0, 3, 8), "reward": rng.normal(size=8),
             "discount": np.full(8, 0.99), "weights": np.ones(8)}
    start = [variable.numpy() for variable in agent.variables]
    generator = tf.random.Generator.from_seed(2)
    losses = []
    for augment in (None, lambda images: random_shift(images, generator)):
        for variable, value in zip(agent.variables, start):
            variable.assign(value)
        _, loss, _ = Learner(agent, None, observation_spec, 8, augment)(0, batch, None)
        losses.append(float(loss[0]))
    return losses


@pytest.mark.parametrize("agent_name, encoder, shape", [
    *[(name, "minatar", (10, 10, 4)) for name in AGENTS],
    ("dqn", "mlp", (10, 10, 4)), ("dqn", "nature", (36, 36, 4)), ("dqn", "impala", (36, 36, 4)),
])
def test_every_agent_and_encoder_trains_on_shifted_observations(agent_name, encoder, shape):
    plain, shifted = _losses_with_and_without_shift(agent_name, encoder, shape)
    assert np.isfinite([plain, shifted]).all()
    assert shifted != pytest.approx(plain, rel=1e-6)  # the update saw other observations
