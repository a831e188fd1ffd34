"""Continuous-control agents on TF-Agents networks: offline BC, TD3+BC and CQL-SAC; SAC and
TD3 online (collecting with `explore`) or offline.

TF-Agents has SAC, TD3 and CQL-SAC agents, but no TD3+BC, and their train steps call each
network several times per update; these losses are written out instead (each a few lines, as in
the papers).

Masks change only between updates: each network's optimizer (`pruning.MaskedAdam`) never moves
its pruned weights, and the trainer runs the pruning method's mask updates for every network.

Defaults are the papers': TD3 (Fujimoto et al. 2018: exploration noise 0.1) and TD3+BC
(Fujimoto & Gu 2021: Adam 3e-4, discount 0.99, tau 0.005, policy noise 0.2 clipped at 0.5,
actor every 2 updates, alpha 2.5), SAC (Haarnoja et al. 2018: Adam 3e-4, tau 0.005, entropy
target -|A|, learned temperature) and CQL(H) (Kumar et al. 2020: alpha 5 on MuJoCo,
10 sampled actions per kind). BC is TD3+BC's behavioral cloning baseline: MSE to the data's action.

Each agent's `network_losses` are its own training losses, per network (what SNIP and GraSP
score at initialization and RigL grows by):
BC the BC loss for the actor; TD3 and TD3+BC their actor loss for the actor and the twin TD
loss for the critic; SAC and CQL-SAC the actor loss and the critic loss (with the CQL term).
"""

import dataclasses
import math

import tensorflow as tf

from tfprune_rl.agents.create import soft_update
from tfprune_rl.networks.actor_critic import ActorNetwork, CriticNetwork
from tfprune_rl.pruning import MaskedAdam, masked_kernels



@dataclasses.dataclass(frozen=True)
class ContinuousHyperparams:
    learning_rate: float = 3e-4
    discount: float = 0.99
    tau: float = 0.005
    policy_noise: float = 0.2
    noise_clip: float = 0.5
    policy_delay: int = 2
    exploration_noise: float = 0.1
    td3_bc_alpha: float = 2.5
    cql_alpha: float = 5.0
    cql_samples: int = 10


def _mse(a, b):
    return tf.reduce_mean(tf.square(a - b))


class _Agent(tf.Module):
    """Networks by name, one Adam per network, and the update counter that drives the masks."""

    has_target_actor = False
    policy_delay = 1  # updates per actor update

    def __init__(self, networks: dict, hyperparams: ContinuousHyperparams, seed: int):
        super().__init__()
        self.hyperparams = hyperparams
        self.networks = networks
        self.optimizers = {name: MaskedAdam(hyperparams.learning_rate,
                                            masked_kernels=masked_kernels(net.stack))
                           for name, net in networks.items()}
        for name, net in networks.items():
            self.optimizers[name].build(net.trainable_variables)
        self.targets = {name: net.copy(layer_transform=None, name=f"Target{net.name}")
                        for name, net in networks.items() if name != "actor" or self.has_target_actor}
        self.updates = tf.Variable(0, dtype=tf.int64, trainable=False, name="updates")
        self.rng = tf.random.Generator.from_seed(seed)
        self.sync_targets()

    @property
    def actor(self) -> ActorNetwork:
        return self.networks["actor"]

    def sync_targets(self) -> None:
        """Targets start equal to the (masked) online networks."""
        for name, target in self.targets.items():
            soft_update(self.networks[name].compute_variables(), target.compute_variables(), 1.0)

    def _step(self, name: str, tape: tf.GradientTape, loss: tf.Tensor) -> None:
        """One Adam step on network `name` (its pruned weights stay zero)."""
        net = self.networks[name]
        gradients = tape.gradient(loss, net.trainable_variables)
        self.optimizers[name].apply_gradients(zip(gradients, net.trainable_variables))

    def network_losses(self) -> dict:
        raise NotImplementedError

    def train(self, batch: dict, update_actor: bool) -> dict:
        raise NotImplementedError


class BcAgent(_Agent):
    def __init__(self, actor: ActorNetwork, hyperparams: ContinuousHyperparams, seed: int = 0):
        super().__init__({"actor": actor}, hyperparams, seed)

    def bc_loss(self, batch) -> tf.Tensor:
        action, _ = self.actor(batch["observation"])
        return _mse(action, batch["action"])

    def network_losses(self) -> dict:
        return {"actor": self.bc_loss}

    def train(self, batch, update_actor=True):
        self.updates.assign_add(1)
        with tf.GradientTape() as tape:
            loss = self.bc_loss(batch)
        self._step("actor", tape, loss)
        return {"actor_loss": loss}


class _TwinCriticAgent(_Agent):
    def __init__(self, actor: ActorNetwork, critic: CriticNetwork,
                 hyperparams: ContinuousHyperparams, seed: int):
        super().__init__({"actor": actor, "critic": critic}, hyperparams, seed)

    @property
    def critic(self) -> CriticNetwork:
        return self.networks["critic"]

    def _td_target(self, batch, next_value):
        h = self.hyperparams
        return tf.stop_gradient(
            batch["reward"] + h.discount * (1.0 - batch["terminal"]) * next_value)

    def _train(self, batch, update_actor: bool) -> dict:
        self.updates.assign_add(1)
        with tf.GradientTape() as tape:
            critic_loss = self.critic_loss(batch)
        self._step("critic", tape, critic_loss)
        losses = {"critic_loss": critic_loss}
        if update_actor:
            with tf.GradientTape() as tape:
                actor_loss = self.actor_loss(batch)
            self._step("actor", tape, actor_loss)
            losses["actor_loss"] = actor_loss
            for name, target in self.targets.items():
                soft_update(self.networks[name].compute_variables(), target.compute_variables(),
                            self.hyperparams.tau)
        return losses

    def network_losses(self) -> dict:
        return {"actor": self.actor_loss, "critic": self.critic_loss}


class Td3Agent(_TwinCriticAgent):
    has_target_actor = True

    @property
    def policy_delay(self) -> int:
        return self.hyperparams.policy_delay

    def critic_loss(self, batch) -> tf.Tensor:
        h = self.hyperparams
        next_action, _ = self.targets["actor"](batch["next_observation"])
        noise = tf.clip_by_value(self.rng.normal(tf.shape(next_action)) * h.policy_noise,
                                 -h.noise_clip, h.noise_clip) * self.actor.half_range
        next_action = tf.clip_by_value(next_action + noise, self.actor.scale(-1.0),
                                       self.actor.scale(1.0))
        (q1_next, q2_next), _ = self.targets["critic"]((batch["next_observation"], next_action))
        target = self._td_target(batch, tf.minimum(q1_next, q2_next))
        (q1, q2), _ = self.critic((batch["observation"], batch["action"]))
        return _mse(q1, target) + _mse(q2, target)

    def actor_loss(self, batch) -> tf.Tensor:
        action, _ = self.actor(batch["observation"])
        (q1, _), _ = self.critic((batch["observation"], action))
        return -tf.reduce_mean(q1)

    def train(self, batch, update_actor=True):
        return self._train(batch, update_actor)

    def explore(self, observation) -> tf.Tensor:
        """The action to collect with online: the deterministic action plus Gaussian noise (std `exploration_noise` of the
        half-range), clipped to the bounds."""
        action, _ = self.actor(observation)
        noise = self.rng.normal(tf.shape(action)) * self.hyperparams.exploration_noise
        return tf.clip_by_value(action + noise * self.actor.half_range, self.actor.scale(-1.0),
                                self.actor.scale(1.0))


class Td3BcAgent(Td3Agent):
    def actor_loss(self, batch) -> tf.Tensor:
        """-lambda Q1(s, pi(s)) + (pi(s) - a)^2, lambda = alpha / mean |Q| (not differentiated)."""
        action, _ = self.actor(batch["observation"])
        (q1, _), _ = self.critic((batch["observation"], action))
        scale = tf.stop_gradient(self.hyperparams.td3_bc_alpha / tf.reduce_mean(tf.abs(q1)))
        return -scale * tf.reduce_mean(q1) + _mse(action, batch["action"])


class SacAgent(_TwinCriticAgent):
    """SAC with a learned temperature; `conservative=True` adds CQL(H)'s penalty to the critic
    loss: alpha_cql * (logsumexp over sampled actions of Q, importance-weighted, - Q(s, a_data))."""

    def __init__(self, actor, critic, hyperparams, seed=0, conservative: bool = False):
        super().__init__(actor, critic, hyperparams, seed)
        self.conservative = conservative
        self.log_alpha = tf.Variable(0.0, name="log_alpha")
        self.alpha_optimizer = tf.keras.optimizers.Adam(hyperparams.learning_rate)
        self.alpha_optimizer.build([self.log_alpha])
        self._target_entropy = -float(actor.action_size)

    def sample(self, observation) -> tuple[tf.Tensor, tf.Tensor]:
        """A tanh-Gaussian action in the bounds and its log-density."""
        mean, std = self.actor.distribution(observation)
        pre_tanh = mean + std * self.rng.normal(tf.shape(mean))
        squashed = tf.tanh(pre_tanh)
        log_prob = tf.reduce_sum(
            -0.5 * tf.square((pre_tanh - mean) / std) - tf.math.log(std) - 0.5 * math.log(2 * math.pi)
            - tf.math.log(1.0 - tf.square(squashed) + 1e-6) - tf.math.log(self.actor.half_range),
            axis=-1)
        return self.actor.scale(squashed), log_prob

    def critic_loss(self, batch) -> tf.Tensor:
        alpha = tf.exp(self.log_alpha)
        next_action, next_log_prob = self.sample(batch["next_observation"])
        (q1_next, q2_next), _ = self.targets["critic"]((batch["next_observation"], next_action))
        target = self._td_target(batch, tf.minimum(q1_next, q2_next) - alpha * next_log_prob)
        (q1, q2), _ = self.critic((batch["observation"], batch["action"]))
        loss = _mse(q1, target) + _mse(q2, target)
        if self.conservative:
            loss += self.hyperparams.cql_alpha * self._cql_penalty(batch, q1, q2)
        return loss

    def _cql_penalty(self, batch, q1_data, q2_data) -> tf.Tensor:
        """CQL(H) with importance sampling: N uniform actions (density 1/|A|-volume) and N policy
        actions at s and at s', each Q minus its log-density, logsumexp'd per state."""
        n = self.hyperparams.cql_samples
        observation = batch["observation"]
        batch_size, action_size = tf.shape(batch["action"])[0], batch["action"].shape[-1]
        repeated = tf.repeat(observation, n, axis=0)
        uniform = self.actor.scale(self.rng.uniform((batch_size * n, action_size), -1.0, 1.0))
        uniform_log_prob = -tf.reduce_sum(tf.math.log(2.0 * self.actor.half_range)) * tf.ones(
            batch_size * n)
        policy, policy_log_prob = self.sample(repeated)
        next_policy, next_log_prob = self.sample(tf.repeat(batch["next_observation"], n, axis=0))
        actions = tf.concat([uniform, policy, next_policy], axis=0)
        log_probs = tf.stop_gradient(tf.concat([uniform_log_prob, policy_log_prob, next_log_prob], 0))
        (q1, q2), _ = self.critic((tf.tile(repeated, [3, 1]), tf.stop_gradient(actions)))

        def logsumexp(q):
            return tf.reduce_logsumexp(tf.reshape(q - log_probs, (3, batch_size, n)), axis=[0, 2])

        return (tf.reduce_mean(logsumexp(q1) - q1_data) + tf.reduce_mean(logsumexp(q2) - q2_data))

    def actor_loss(self, batch) -> tf.Tensor:
        action, log_prob = self.sample(batch["observation"])
        (q1, q2), _ = self.critic((batch["observation"], action))
        return tf.reduce_mean(tf.exp(self.log_alpha) * log_prob - tf.minimum(q1, q2))

    def train(self, batch, update_actor=True):
        losses = self._train(batch, update_actor=True)
        _, log_prob = self.sample(batch["observation"])
        with tf.GradientTape() as tape:
            alpha_loss = -tf.reduce_mean(
                self.log_alpha * tf.stop_gradient(log_prob + self._target_entropy))
        self.alpha_optimizer.apply_gradients(
            [(tape.gradient(alpha_loss, self.log_alpha), self.log_alpha)])
        return {**losses, "alpha": tf.exp(self.log_alpha)}

    def explore(self, observation) -> tf.Tensor:
        """The action to collect with online: a sample of the policy."""
        return self.sample(observation)[0]
