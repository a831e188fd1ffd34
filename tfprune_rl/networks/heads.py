"""Q-network heads: the layers that read the encoder's features, what the network's call
returns from them, and how Q(s, .) is read from that. The agent registry gives each agent its
head; the policy, the serving signature and the diagnostics ask the head, never the agent.

A head is a frozen value: a network and its copies (target, serving) build their own layers
from it.
"""

import dataclasses
import math

import tensorflow as tf
from tf_agents.policies import categorical_q_policy, q_policy

Layers = list[tf.keras.layers.Layer]


@dataclasses.dataclass(frozen=True)
class ValueHead:
    """One linear layer: Q(s, a) for every action (DQN, double DQN, CQL)."""

    # Served Q-values are checked to this scale at least (see `export.run_export`).
    q_scale = 0.0

    def layers(self, num_actions: int, feature_size: int) -> Layers:
        del feature_size
        return [tf.keras.layers.Dense(num_actions, name="q_values")]

    def outputs(self, layers: Layers, features: tf.Tensor) -> tf.Tensor:
        return layers[-1](features, training=False)

    def q_values(self, outputs: tf.Tensor) -> tf.Tensor:
        return outputs

    def served(self, outputs: tf.Tensor) -> dict:
        """Outputs the serving signature gives besides q_values and action."""
        return {}

    def policy(self, time_step_spec, action_spec, network):
        """The TF-Agents policy that acts greedily (wrapped by `GreedyPolicy`) on `network`."""
        return q_policy.QPolicy(time_step_spec, action_spec, q_network=network)


@dataclasses.dataclass(frozen=True)
class CategoricalHead(ValueHead):
    """`num_atoms` logits per action on the support [-v_max, v_max] (C51; Bellemare et al.
    2017). Q is the mean of each distribution, as TF-Agents' `CategoricalQPolicy` computes it.
    Its Q-values are checked in units of v_max: rounding in the probabilities moves them so
    even when they are near 0."""

    num_atoms: int = 51
    v_max: float = 10.0

    @property
    def q_scale(self) -> float:
        return self.v_max

    def layers(self, num_actions, feature_size):
        return [tf.keras.layers.Dense(num_actions * self.num_atoms, name="q_values")]

    def outputs(self, layers, features):
        logits = layers[-1](features, training=False)
        return tf.reshape(logits, (-1, logits.shape[-1] // self.num_atoms, self.num_atoms))

    def q_values(self, outputs):
        support = tf.linspace(-self.v_max, self.v_max, self.num_atoms)
        return tf.reduce_sum(tf.nn.softmax(outputs) * support, axis=-1)

    def served(self, outputs):
        return {"logits": outputs, "probabilities": tf.nn.softmax(outputs)}

    def policy(self, time_step_spec, action_spec, network):
        return categorical_q_policy.CategoricalQPolicy(
            time_step_spec, action_spec, network, min_q_value=-self.v_max,
            max_q_value=self.v_max)


def cosine_embedding(taus: tf.Tensor, size: int) -> tf.Tensor:
    """IQN's embedding of quantile fractions: cos(pi * i * tau) for i = 0 .. size - 1
    (Dabney et al. 2018, eq. 4), one row of `size` per fraction."""
    return tf.cos(math.pi * tf.range(size, dtype=tf.float32) * taus[..., None])


@dataclasses.dataclass(frozen=True)
class QuantileHead(ValueHead):
    """IQN's head (Dabney et al. 2018): Z_tau(s, a) = f(psi(s) * phi(tau)), where psi(s) are
    the encoder's features, phi(tau) = ReLU(Dense(cosine_embedding(tau))) has their size, and f
    is the linear output layer. The product sits after the encoder's last hidden layer, so
    every encoder serves IQN unchanged (Dopamine's Atari IQN puts it before the 512-unit
    layer).

    The network's call gives Q(s, .) as the mean over the fixed grid of `num_quantiles`
    fractions (i + 0.5) / num_quantiles, so acting, evaluation and serving are deterministic
    functions of the state (Dopamine draws the K = 32 fractions at random each time).
    Training reads `quantiles` at sampled fractions.
    """

    embedding_size: int = 64
    num_quantiles: int = 32  # K, the fractions Q(s, .) averages over

    def layers(self, num_actions, feature_size):
        return [tf.keras.layers.Dense(feature_size, activation="relu", name="quantile_embedding"),
                tf.keras.layers.Dense(num_actions, name="q_values")]

    def quantiles(self, layers: Layers, features: tf.Tensor, taus: tf.Tensor) -> tf.Tensor:
        """[batch, N, actions] quantile values at `taus` [batch, N]."""
        embedding, output = layers
        batch, n = tf.shape(taus)[0], tf.shape(taus)[1]
        phi = embedding(tf.reshape(cosine_embedding(taus, self.embedding_size),
                                   (-1, self.embedding_size)), training=False)
        modulated = tf.reshape(features[:, None, :] * tf.reshape(
            phi, (batch, n, features.shape[-1])), (-1, features.shape[-1]))
        return tf.reshape(output(modulated, training=False), (batch, n, -1))

    def grid(self, batch_size) -> tf.Tensor:
        """The fixed fractions (i + 0.5) / K for every state of a batch."""
        fractions = (tf.range(self.num_quantiles, dtype=tf.float32) + 0.5) / self.num_quantiles
        return tf.tile(fractions[None], [batch_size, 1])

    def outputs(self, layers, features):
        return tf.reduce_mean(
            self.quantiles(layers, features, self.grid(tf.shape(features)[0])), axis=1)
