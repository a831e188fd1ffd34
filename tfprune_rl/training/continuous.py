"""Offline continuous control: how a step updates. Load the dataset, build the agent, make the
pruning method's masks before the first update (and update them on its schedule), then one
update per step on a uniform batch; the env is stepped only for evaluation. The runner
(`training/runner.py`) owns the rest of the run, and the run directory is a value-based run's.
"""

from typing import Callable

import numpy as np
import tensorflow as tf

from tfprune_rl import pruning
from tfprune_rl.agents.continuous import (
    BcAgent, ContinuousHyperparams, SacAgent, Td3BcAgent,
)
from tfprune_rl.envs import continuous_specs, make_continuous_env
from tfprune_rl.export import CHECK_OBSERVATIONS
from tfprune_rl.export.actor_export import export_actor
from tfprune_rl.networks.actor_critic import ActorNetwork, CriticNetwork
from tfprune_rl.offline.chunk import DatasetError
from tfprune_rl.offline.transitions import References, Transitions, load_transitions
from tfprune_rl.training.config import pruning_config
from tfprune_rl.training.continuous_config import ContinuousConfig
from tfprune_rl.training.evaluation import EVAL_SEED_OFFSET, evaluate
from tfprune_rl.training.lottery import source_masks, source_seed
from tfprune_rl.training.runner import Intervals, check_finite, run
from tfprune_rl.training.timing import PhaseTimer


def check_dataset(transitions: Transitions, observation_spec, action_spec, path: str) -> None:
    """The dataset must have the env's observation and action sizes, and actions in bounds."""
    if (transitions.observations.shape[1:] != tuple(observation_spec.shape)
            or transitions.actions.shape[1:] != tuple(action_spec.shape)):
        raise DatasetError(
            f"dataset {path} has observations {transitions.observations.shape[1:]} and actions "
            f"{transitions.actions.shape[1:]}; the env has {tuple(observation_spec.shape)} and "
            f"{tuple(action_spec.shape)}")
    low, high = action_spec.minimum - 1e-4, action_spec.maximum + 1e-4
    if np.any(transitions.actions < low) or np.any(transitions.actions > high):
        raise DatasetError(f"dataset {path} has actions outside the env's bounds "
                           f"[{action_spec.minimum.min()}, {action_spec.maximum.max()}]")


def make_agent(config: ContinuousConfig, observation_spec, action_spec, observation_stats):
    """The agent with its networks wrapped for the configured pruning (none when dense); a
    lottery ticket's networks start at its source run's initialization."""
    transform = (pruning.create_updater(pruning_config(config)).wrap if config.sparsity > 0
                 else None)
    mean, std = observation_stats
    network_args = dict(hidden_units=config.hidden_units, width=config.width,
                        observation_mean=mean, observation_std=std, layer_transform=transform,
                        seed=source_seed(config.mask_from) if config.mask_from else config.seed)
    gaussian = config.agent in ("sac", "cql_sac")
    actor = ActorNetwork(observation_spec, action_spec, gaussian=gaussian, **network_args)
    hyperparams = ContinuousHyperparams()
    if config.agent == "bc":
        return BcAgent(actor, hyperparams, config.seed)
    critic = CriticNetwork((observation_spec, action_spec), **network_args)
    if config.agent == "td3_bc":
        return Td3BcAgent(actor, critic, hyperparams, config.seed)
    return SacAgent(actor, critic, hyperparams, config.seed, conservative=config.agent == "cql_sac")


def _tensors(batch: dict) -> dict:
    return {name: tf.constant(value) for name, value in batch.items()}


def network_sparsities(agent) -> dict[str, float]:
    """Zeros in each network's kernels."""
    return {name: pruning.total_sparsity(pruning.kernel_sparsity(net.stack))
            for name, net in agent.networks.items()}


class ContinuousTrainer:
    clock, unit = "update", "updates"

    def __init__(self, config: ContinuousConfig, log: Callable[[str], None] = print):
        self.config = config
        self.log = log
        self.root_dir = config.root_dir
        self.intervals = Intervals(config.num_updates, config.log_interval,
                                   config.eval_interval, config.checkpoint_interval)
        self.replay = None  # the dataset is read again on resume, never checkpointed
        self.timer = PhaseTimer()
        self.transitions, self.references = load_transitions(config.dataset)
        if config.reference_returns is not None:
            self.references = References(*config.reference_returns)
        self.env = make_continuous_env(config.env_id)
        observation_spec, self.action_spec = continuous_specs(self.env)
        check_dataset(self.transitions, observation_spec, self.action_spec, config.dataset)
        self.agent = make_agent(config, observation_spec, self.action_spec,
                                self.transitions.observation_stats())
        self.updater = pruning.create_updater(pruning_config(config))
        self.kernels = {name: pruning.masked_kernels(net.stack)
                        for name, net in self.agent.networks.items()}
        self.mask_updates = self.updater.update_steps()
        self.train_step = tf.function(self.agent.train, jit_compile=True)
        self.update_masks = tf.function(self._update_masks, jit_compile=True)
        self.act = tf.function(lambda observation: self.agent.actor(observation)[0],
                               jit_compile=True)
        self.delay = (self.agent.hyperparams.policy_delay if isinstance(self.agent, Td3BcAgent)
                      else 1)
        self.losses = {}
        self.last_sparsities = {}

    def describe(self) -> str:
        c = self.config
        pruned = f"{c.sparsity:.0%} sparse ({c.pruning})" if c.sparsity > 0 else "dense"
        return (f"{c.agent} on {c.env_id}, mlp {'-'.join(map(str, c.hidden_units))} "
                f"x{c.width}, {pruned}, {c.num_updates:,} updates, offline on {c.dataset}")

    def checkpointed(self) -> dict:
        return {"agent": self.agent, "pruning": self.updater}

    def divergence_hint(self) -> str:
        return f"--learning_rate={self.agent.hyperparams.learning_rate:g} (lower it)"

    def start(self, position: int) -> None:
        config, references = self.config, self.references
        episodes = self.transitions.episode_returns()
        self.log(f"dataset {config.dataset}: {len(self.transitions):,} transitions, "
                 f"{len(episodes)} episodes, mean return "
                 f"{np.mean(episodes) if episodes else float('nan'):.1f}; references "
                 + (f"random {references.random:.1f}, expert {references.expert:.1f}"
                    if references else "none (no normalized score)"))
        self.updates = self.logged_updates = int(self.agent.updates.numpy())
        if not self.updates and config.sparsity:
            self._initialize_masks()

    def _initialize_masks(self) -> None:
        """Each network's masks from the method, before the first update (scored with its own
        loss, on `saliency_batches` batches of the dataset, when the method reads a loss)."""
        config = self.config
        tickets = (source_masks(config.mask_from, self.agent.networks,
                                lambda copies: {"networks": copies}) if config.mask_from else {})
        rng = np.random.default_rng([config.seed, 1])
        batches = ([_tensors(self.transitions.sample(config.batch_size, rng))
                    for _ in range(config.saliency_batches)] if self.updater.reads_loss else ())
        losses = self.agent.network_losses()
        for name, kernels in self.kernels.items():
            self.updater.initialize(kernels, losses[name], batches, tickets.get(name))
        self.agent.sync_targets()
        sparsities = network_sparsities(self.agent)
        if any(sparsities.values()):
            self.log(f"{config.pruning} masks before the first update: " + ", ".join(
                f"{name} {value:.4f} sparse" for name, value in sparsities.items()))

    def _update_masks(self, step, batch) -> None:
        """Every network's masks after update `step` (`batch` for a method's loss)."""
        losses = self.agent.network_losses()
        for name, kernels in self.kernels.items():
            self.updater.update(kernels, step, losses[name], batch)
            self.agent.optimizers[name].zero_pruned_moments()

    def advance(self) -> int:
        config = self.config
        with self.timer.phase("replay"):
            batch = _tensors(self.transitions.sample(config.batch_size, np.random.default_rng(
                [config.seed, self.updates, 2])))
        with self.timer.phase("learner"):
            self.losses = self.train_step(batch, self.updates % self.delay == 0)
        check_finite(np.array([float(v) for v in self.losses.values()]), self.updates + 1,
                     self.divergence_hint())
        self.updates += 1
        if self.updates in self.mask_updates:
            with self.timer.phase("masks"):
                self.update_masks(tf.constant(self.updates, tf.int64), _tensors(
                    self.transitions.sample(config.batch_size, np.random.default_rng(
                        [config.seed, self.updates, 4]))) if self.updater.reads_loss else {})
        return self.updates

    def settle(self) -> None:
        pass  # every step makes its update

    def before_checkpoint(self, position: int) -> None:
        pass

    def progress(self, seconds: float) -> tuple[str, dict]:
        throughput = {"updates_per_second": (self.updates - self.logged_updates) / seconds,
                      "phase_seconds": self.timer.lap()}
        self.logged_updates = self.updates
        sparsities = network_sparsities(self.agent)
        losses = {name: float(value) for name, value in self.losses.items()}
        for name, value in losses.items():
            tf.summary.scalar(f"train/{name}", value, step=self.updates)
        for name, value in sparsities.items():
            tf.summary.scalar(f"sparsity/{name}", value, step=self.updates)
        line = (f"updates {self.updates:,}/{self.config.num_updates:,} | "
                f"{throughput['updates_per_second']:.0f} updates/s | "
                + " ".join(f"{k} {v:.3f}" for k, v in losses.items()) + " | sparsity "
                + " ".join(f"{k} {v:.3f}" for k, v in sparsities.items()))
        return line, throughput

    def evaluate(self) -> list[float]:
        return evaluate(self.env, lambda o: self.act(tf.constant(o, tf.float32)).numpy(),
                        self.config.eval_episodes, self.config.seed + EVAL_SEED_OFFSET)

    def counters(self) -> dict:
        return {"update": self.updates, "env_step": 0}

    def score(self, mean_return: float) -> dict:
        return ({"normalized_score": self.references.normalize(mean_return)}
                if self.references else {})

    def export(self, export_dir: str) -> dict:
        config = self.config
        metadata = {"env_id": config.env_id, "agent": config.agent, "pruning": config.pruning,
                    "target_sparsity": config.sparsity}
        check = self.transitions.observations[np.random.default_rng(config.seed).integers(
            0, len(self.transitions), CHECK_OBSERVATIONS)]
        return export_actor(self.agent.actor, self.action_spec, export_dir, check, metadata,
                            self.updates)

    def metrics(self) -> dict:
        config, references = self.config, self.references
        return {
            "env_id": config.env_id, "mode": "offline", "agent": config.agent,
            "pruning": config.pruning, "target_sparsity": config.sparsity, "seed": config.seed,
            "width": config.width, "normalized_score": None,
            "reference_returns": ({"random": references.random, "expert": references.expert}
                                  if references else None),
            "network_sparsity": network_sparsities(self.agent),
            "train_steps": self.updates,
            "dataset": {"path": config.dataset, "transitions": len(self.transitions),
                        "episodes": len(self.transitions.episode_returns())},
        }


def train_continuous(config: ContinuousConfig, log: Callable[[str], None] = print) -> dict:
    """Trains an offline continuous-control run in `config.root_dir`, resuming."""
    return run(ContinuousTrainer(config, log), log)
