"""C51 (Bellemare et al. 2017) on TF-Agents' CategoricalDqnAgent, with importance weights.

TF-Agents' C51 loss ignores `weights` and reports no per-transition loss, and prioritized
replay needs both. This subclass computes the same one-step projected cross-entropy on
transitions whose reward and discount already hold the n-step return and gamma^n (the
replay buffer computes them), weights it, and returns each transition's unweighted loss.
With `cql_alpha` > 0 it is CQL+C51: CQL's conservative term on the distribution's mean values.
The support is the network's `CategoricalHead`'s.
"""

import collections

import tensorflow as tf
from tf_agents.agents import tf_agent
from tf_agents.agents.categorical_dqn import categorical_dqn_agent
from tf_agents.utils import common

from tfprune_rl.agents.cql import conservative_penalty

CategoricalLossInfo = collections.namedtuple("CategoricalLossInfo", ("td_loss",))


class WeightedCategoricalDqnAgent(categorical_dqn_agent.CategoricalDqnAgent):
    def __init__(self, time_step_spec, action_spec, q_network, cql_alpha: float = 0.0,
                 **kwargs):
        v_max = q_network.head.v_max
        super().__init__(time_step_spec, action_spec, categorical_q_network=q_network,
                         min_q_value=-v_max, max_q_value=v_max, **kwargs)
        self._cql_alpha = cql_alpha

    def _loss(self, experience, td_errors_loss_fn=None, gamma=1.0, reward_scale_factor=1.0,
              weights=None, training=False):
        del td_errors_loss_fn
        time_steps, policy_steps, next_time_steps = self._as_transition(experience)
        logits, _ = self._q_network(
            time_steps.observation, step_type=time_steps.step_type, training=training
        )
        target_support = (
            reward_scale_factor * next_time_steps.reward[:, None]
            + gamma * next_time_steps.discount[:, None] * self._support[None, :]
        )
        target = tf.stop_gradient(
            categorical_dqn_agent.project_distribution(
                target_support, self._next_q_distribution(next_time_steps), self._support
            )
        )
        chosen_logits = tf.gather(logits, policy_steps.action, batch_dims=1)
        cross_entropy = tf.nn.softmax_cross_entropy_with_logits(labels=target, logits=chosen_logits)
        loss = cross_entropy
        if self._cql_alpha:
            q_values = tf.reduce_sum(tf.nn.softmax(logits) * self._support, axis=-1)
            loss += self._cql_alpha * conservative_penalty(q_values, policy_steps.action)
        aggregated = common.aggregate_losses(
            per_example_loss=loss, sample_weight=weights,
            regularization_loss=self._q_network.losses,
        )
        return tf_agent.LossInfo(aggregated.total_loss, CategoricalLossInfo(cross_entropy))

    def _next_q_distribution(self, next_time_steps):
        """The target network's distribution at its greedy action, from a single forward pass."""
        logits, _ = self._target_q_network(next_time_steps.observation, training=False)
        probabilities = tf.nn.softmax(logits)
        greedy = tf.argmax(tf.reduce_sum(self._support * probabilities, axis=-1), axis=-1)
        return tf.gather(probabilities, greedy, batch_dims=1)
