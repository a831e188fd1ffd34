"""IQN (Dabney et al. 2018) and Munchausen-IQN (Vieillard et al. 2020) on TF-Agents' DqnAgent.

The network ends in a `QuantileHead`, so its call is Q(s, .) and DqnAgent's policies,
target network and train step serve IQN unchanged; only the loss is IQN's. As with every agent
here, the replay buffer computes n-step returns, so a batch's reward is the n-step return and
its discount gamma^n (0 at termination).

Defaults are Dopamine's IQN (kappa 1, N = N' = 64 fractions, K = 32 for the greedy action of
the target) and the Munchausen paper's (tau 0.03, alpha 0.9, l0 = -1).
"""

import collections

import tensorflow as tf
from tf_agents.agents import tf_agent
from tf_agents.agents.dqn import dqn_agent
from tf_agents.utils import common

QuantileLossInfo = collections.namedtuple("QuantileLossInfo", ("td_loss",))


def quantile_huber_loss(targets: tf.Tensor, quantiles: tf.Tensor, taus: tf.Tensor,
                        kappa: float) -> tf.Tensor:
    """Per transition: sum over i, mean over j, of |tau_i - 1{u_ij < 0}| * Huber_kappa(u_ij) /
    kappa, with u_ij = targets_j - quantiles_i (the IQN paper's eq. 3). `targets` [B, N'],
    `quantiles` and `taus` [B, N]."""
    errors = targets[:, None, :] - quantiles[:, :, None]  # [B, N, N']
    absolute = tf.abs(errors)
    huber = tf.where(absolute <= kappa, 0.5 * tf.square(errors),
                     kappa * (absolute - 0.5 * kappa))
    weight = tf.abs(taus[:, :, None] - tf.stop_gradient(tf.cast(errors < 0, tf.float32)))
    return tf.reduce_sum(tf.reduce_mean(weight * huber / kappa, axis=2), axis=1)


class IqnAgent(dqn_agent.DqnAgent):
    def __init__(self, *args, seed: int = 0, num_tau_samples: int = 64,
                 num_tau_prime_samples: int = 64, num_quantile_samples: int = 32,
                 kappa: float = 1.0, **kwargs):
        super().__init__(*args, **kwargs)
        self._num_tau_samples = num_tau_samples
        self._num_tau_prime_samples = num_tau_prime_samples
        self._num_quantile_samples = num_quantile_samples
        self._kappa = kappa
        self._rng = tf.random.Generator.from_seed(seed)  # checkpointed with the agent

    def _taus(self, batch_size, count: int) -> tf.Tensor:
        return self._rng.uniform((batch_size, count))

    def _target_quantiles(self, next_observation, taus):
        return self._target_q_network.quantiles(next_observation, taus)

    def _targets(self, time_steps, actions, next_time_steps) -> tf.Tensor:
        """[B, N'] targets: R + discount * Z_tau'(s', a*), a* greedy for the target network's
        mean over K fresh fractions. One pass of the target network gives both sets of
        quantiles, so the encoder runs once on s'."""
        batch_size = tf.shape(next_time_steps.reward)[0]
        k = self._num_quantile_samples
        taus = tf.concat([self._taus(batch_size, k),
                          self._taus(batch_size, self._num_tau_prime_samples)], axis=1)
        quantiles = self._target_quantiles(next_time_steps.observation, taus)
        greedy = tf.argmax(tf.reduce_mean(quantiles[:, :k], axis=1), axis=-1)
        chosen = tf.gather(quantiles[:, k:], greedy, axis=2, batch_dims=1)
        return (next_time_steps.reward[:, None]
                + next_time_steps.discount[:, None] * chosen)

    def _loss(self, experience, td_errors_loss_fn=None, gamma=1.0, reward_scale_factor=1.0,
              weights=None, training=False):
        del td_errors_loss_fn, gamma, reward_scale_factor, training  # see the module docstring
        time_steps, policy_steps, next_time_steps = self._as_transition(experience)
        actions = policy_steps.action
        targets = tf.stop_gradient(self._targets(time_steps, actions, next_time_steps))
        taus = self._taus(tf.shape(actions)[0], self._num_tau_samples)
        quantiles = tf.gather(self._q_network.quantiles(time_steps.observation, taus), actions,
                              axis=2, batch_dims=1)
        td_loss = quantile_huber_loss(targets, quantiles, taus, self._kappa)
        aggregated = common.aggregate_losses(per_example_loss=td_loss, sample_weight=weights,
                                             regularization_loss=self._q_network.losses)
        return tf_agent.LossInfo(aggregated.total_loss, QuantileLossInfo(td_loss))


def scaled_log_policy(q_values: tf.Tensor, tau: float) -> tf.Tensor:
    """tau * log softmax(q / tau): the log-policy Munchausen RL adds, scaled by tau."""
    return tau * tf.nn.log_softmax(q_values / tau, axis=-1)


class MunchausenIqnAgent(IqnAgent):
    """IQN whose targets add alpha * clip(tau * log pi(a|s), l0, 0) for the action taken and
    soften the next state's value: sum over a' of pi(a'|s') (Z_tau'(s', a') - tau * log
    pi(a'|s')), where pi = softmax(q / tau) of the target network's Q (the mean of the same
    N' quantiles)."""

    def __init__(self, *args, munchausen_tau: float = 0.03, munchausen_alpha: float = 0.9,
                 log_policy_clip: float = -1.0, **kwargs):
        super().__init__(*args, **kwargs)
        self._tau = munchausen_tau
        self._alpha = munchausen_alpha
        self._clip = log_policy_clip

    def _targets(self, time_steps, actions, next_time_steps):
        batch_size = tf.shape(actions)[0]
        taus = self._taus(batch_size, self._num_tau_prime_samples)
        next_quantiles = self._target_quantiles(next_time_steps.observation, taus)
        current_q = tf.reduce_mean(self._target_quantiles(time_steps.observation, taus), axis=1)
        return munchausen_targets(next_time_steps.reward, next_time_steps.discount, actions,
                                  current_q, next_quantiles, self._tau, self._alpha, self._clip)


def munchausen_targets(rewards, discounts, actions, current_q, next_quantiles, tau: float,
                       alpha: float, clip: float) -> tf.Tensor:
    """[B, N'] M-IQN targets from the target network's Q(s, .) `current_q` [B, A] and its
    quantiles at s' `next_quantiles` [B, N', A]."""
    bonus = alpha * tf.clip_by_value(tf.gather(scaled_log_policy(current_q, tau), actions,
                                               batch_dims=1), clip, 0.0)
    next_q = tf.reduce_mean(next_quantiles, axis=1)
    policy = tf.nn.softmax(next_q / tau, axis=-1)
    soft = tf.reduce_sum(policy[:, None, :] * (
        next_quantiles - scaled_log_policy(next_q, tau)[:, None, :]), axis=-1)
    return (rewards + bonus)[:, None] + discounts[:, None] * soft
