"""A value-based agent's updates and its acting, fused into one XLA call per vector step.

On a CPU the loop is bound by per-call overhead, not arithmetic: a MinAtar update is about 1 ms
of FLOPs, and each TF call from Python costs 0.1-0.4 ms more. So one call makes the k updates
that are due, on k batches sampled in one go (the optimizer, `pruning.MaskedAdam`, leaves
pruned weights at zero inside the same compiled computation), and then picks the next action
of every env with the updated network. Each k (and acting or not) is one concrete function,
traced and compiled the first time it is needed; calling it directly skips tf.function's
dispatch.
"""

from typing import Callable

import numpy as np
import tensorflow as tf
from tf_agents.trajectories import policy_step, time_step as ts, trajectory

from tfprune_rl.agents import per_example_loss

# Per transition: action, reward, discount, importance weight (one float array, one argument).
SCALARS = ("action", "reward", "discount", "weights")


def as_transition(batch: dict[str, tf.Tensor]) -> trajectory.Transition:
    """A replay batch as the `Transition` the agents train on.

    The agents read observation, action, reward and discount; every stored transition starts
    mid-episode (never at a LAST step), so both step types are MID.
    """
    mid = tf.fill(tf.shape(batch["reward"]), ts.StepType.MID)
    first = ts.TimeStep(mid, tf.zeros_like(batch["reward"]), tf.ones_like(batch["discount"]),
                        batch["observation"])
    second = ts.TimeStep(mid, batch["reward"], batch["discount"], batch["next_observation"])
    return trajectory.Transition(first, policy_step.PolicyStep(batch["action"], (), ()), second)


def training_loss(agent) -> Callable[[dict], tf.Tensor]:
    """The agent's loss on a replay batch: what SNIP and GraSP score and RigL grows by."""
    def loss(batch):
        with tf.summary.record_if(False):  # the loop writes its own summaries
            return agent.loss(as_transition(
                {**batch, "action": tf.cast(batch["action"], tf.int64)}),
                weights=tf.ones_like(batch["reward"])).loss
    return loss


class Learner:
    """`learner(env_step, batch, observation)`: one update per `batch_size` transitions of
    `batch` (as `ReplayBuffer.sample` returns them), then, given the envs' `observation`,
    `act(observation, env_step)`: the collect policy's actions at env step `env_step`.

    Returns (actions or None, losses [k], per-transition priorities [k, batch_size]); the
    losses and priorities stay tensors, read only when needed. `augment`, if given, maps each
    batch's observations and, separately, its next observations (`training.augmentation`).
    """

    def __init__(self, agent, act: Callable[[tf.Tensor, tf.Tensor], tf.Tensor],
                 observation_spec, batch_size: int,
                 augment: Callable[[tf.Tensor], tf.Tensor] | None = None):
        self._agent = agent
        self._act = act
        self._augment = augment
        self._spec = observation_spec
        self._batch_size = batch_size
        self._functions = {}

    def __call__(self, env_step: int, batch: dict | None, observation: np.ndarray | None):
        updates = 0 if batch is None else len(batch["action"]) // self._batch_size
        act = observation is not None
        args = [tf.constant(env_step, tf.int64)]
        if act:
            args.append(tf.constant(observation))
        if updates:
            pairs, scalars = self._pack(batch, updates)
            args += [tf.constant(pairs), tf.constant(scalars)]
        key = (updates, act)
        if key not in self._functions:
            self._functions[key] = self._compile(updates, act, args)
        function = self._functions[key]
        # The arguments are built to the signature right above, so the learner skips the check
        # of every argument against it that `ConcreteFunction.__call__` makes: 50 us of a
        # 0.32 ms acting call, and 100-170 us of an updating one, measured on this CPU.
        actions, losses, priorities = function._call_flat(args, function.captured_inputs)
        return (actions.numpy() if act else None), losses, priorities

    def _pack(self, batch: dict, updates: int) -> tuple[np.ndarray, np.ndarray]:
        """[k, 2B, ...] observations then next observations, and [k, B, 4] `SCALARS`."""
        b = self._batch_size
        shape = self._spec.shape
        pairs = np.concatenate([batch["observation"].reshape(updates, b, *shape),
                                batch["next_observation"].reshape(updates, b, *shape)], axis=1)
        scalars = np.stack([batch[name].astype(np.float32) for name in SCALARS], axis=-1)
        return pairs, scalars.reshape(updates, b, len(SCALARS))

    def _compile(self, updates: int, act: bool, args: list):
        agent, b = self._agent, self._batch_size

        def update(pair, scalars):
            observation, next_observation = pair[:b], pair[b:]
            if self._augment:
                observation, next_observation = (self._augment(observation),
                                                 self._augment(next_observation))
            batch = {"observation": observation, "next_observation": next_observation,
                     "action": tf.cast(scalars[:, 0], tf.int64), "reward": scalars[:, 1],
                     "discount": scalars[:, 2]}
            with tf.summary.record_if(False):  # the loop writes its own summaries
                loss_info = agent.train(as_transition(batch), weights=scalars[:, 3])
            return loss_info.loss, tf.sqrt(per_example_loss(loss_info) + 1e-10)

        def learn_and_act(env_step, *inputs):
            observation, batch = (inputs[0], inputs[1:]) if act else (None, inputs)
            results = [update(batch[0][i], batch[1][i]) for i in range(updates)]
            losses = tf.stack([loss for loss, _ in results]) if results else tf.zeros([0])
            priorities = (tf.stack([p for _, p in results]) if results
                          else tf.zeros([0, b]))
            if not act:
                return tf.zeros([0], tf.int64), losses, priorities
            return self._act(observation, env_step), losses, priorities

        signature = [tf.TensorSpec(arg.shape, arg.dtype) for arg in args]
        return tf.function(learn_and_act, jit_compile=True).get_concrete_function(*signature)
