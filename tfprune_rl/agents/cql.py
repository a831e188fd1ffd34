"""Discrete CQL (Kumar et al. 2020) on the DQN head: the DQN loss plus alpha times
logsumexp_a Q(s, a) - Q(s, a_data), which pushes down the values of actions the dataset did not
take. The C51 head (CQL+C51) adds the same term in `categorical.py`."""

import tensorflow as tf
from tf_agents.agents import tf_agent
from tf_agents.agents.dqn import dqn_agent
from tf_agents.utils import common


def conservative_penalty(q_values: tf.Tensor, actions: tf.Tensor) -> tf.Tensor:
    """Per transition: logsumexp over actions of Q(s, .) minus Q(s, a) of the data's action."""
    return (tf.reduce_logsumexp(q_values, axis=-1)
            - tf.gather(q_values, actions, batch_dims=1))


class CqlDqnAgent(dqn_agent.DqnAgent):
    def __init__(self, *args, cql_alpha: float, **kwargs):
        super().__init__(*args, **kwargs)
        self._cql_alpha = cql_alpha

    def _loss(self, experience, td_errors_loss_fn=None, gamma=1.0, reward_scale_factor=1.0,
              weights=None, training=False):
        """DQN's loss with all of Q(s, .) from the one forward pass the pruning step counts."""
        time_steps, policy_steps, next_time_steps = self._as_transition(experience)
        actions = policy_steps.action
        q_values, _ = self._q_network(time_steps.observation, step_type=time_steps.step_type,
                                      training=training)
        chosen = tf.gather(q_values, actions, batch_dims=1)
        td_targets = dqn_agent.compute_td_targets(
            self._compute_next_q_values(next_time_steps, policy_steps.info),
            rewards=reward_scale_factor * next_time_steps.reward,
            discounts=gamma * next_time_steps.discount,
        )
        td_loss = (td_errors_loss_fn or self._td_errors_loss_fn)(td_targets, chosen)
        aggregated = common.aggregate_losses(
            per_example_loss=td_loss + self._cql_alpha * conservative_penalty(q_values, actions),
            sample_weight=weights, regularization_loss=self._q_network.losses,
        )
        return tf_agent.LossInfo(aggregated.total_loss,
                                 dqn_agent.DqnLossInfo(td_loss=td_loss,
                                                       td_error=td_targets - chosen))
