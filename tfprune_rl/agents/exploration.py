"""Epsilon-greedy acting: Dopamine's epsilon schedule, and actions drawn from a seeded generator.

XLA ignores the seeds of stateful random ops (TF-Agents' policies use them), so a compiled
policy would explore with the same draws whatever the run's seed, and restart them on resume.
Here the draws come from a `tf.random.Generator` seeded by the run and saved in its
checkpoints: seeds explore differently, and a resumed run explores as an uninterrupted one.
"""

import tensorflow as tf


def linearly_decaying_epsilon(step, warmup_steps: int, decay_steps: int, final_epsilon: float):
    """Dopamine's schedule: 1 during warm-up, then linear down to `final_epsilon`."""
    step = tf.cast(step, tf.float32)
    steps_left = tf.cast(warmup_steps + decay_steps, tf.float32) - step
    bonus = (1.0 - final_epsilon) * steps_left / float(max(decay_steps, 1))
    return final_epsilon + tf.clip_by_value(bonus, 0.0, 1.0 - final_epsilon)


def epsilon_greedy(q_values: tf.Tensor, epsilon, generator: tf.random.Generator) -> tf.Tensor:
    """Per row of `q_values` [batch, actions]: a uniformly random action index with probability
    `epsilon`, else the greedy one (int64)."""
    batch, num_actions = tf.shape(q_values)[0], tf.shape(q_values, out_type=tf.int64)[1]
    explore = generator.uniform([batch]) < epsilon
    random = generator.uniform([batch], 0, num_actions, dtype=tf.int64)
    return tf.where(explore, random, tf.argmax(q_values, axis=-1, output_type=tf.int64))
