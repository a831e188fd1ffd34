"""Epsilon for epsilon-greedy collection."""

import tensorflow as tf


def linearly_decaying_epsilon(step, warmup_steps: int, decay_steps: int, final_epsilon: float):
    """Dopamine's schedule: 1 during warm-up, then linear down to `final_epsilon`."""
    step = tf.cast(step, tf.float32)
    steps_left = tf.cast(warmup_steps + decay_steps, tf.float32) - step
    bonus = (1.0 - final_epsilon) * steps_left / float(max(decay_steps, 1))
    return final_epsilon + tf.clip_by_value(bonus, 0.0, 1.0 - final_epsilon)
