"""Continuous control: how a step collects and updates. Offline, load the dataset and make one
update per step on a uniform batch; the env is stepped only for evaluation. Online (SAC, TD3),
collect in the env into a replay buffer and update from it. Either way the pruning method's
masks are made right before the first update and updated on its schedule. The runner
(`lifecycle/runner.py`) owns the rest of the run, and the run directory is a value-based run's.
"""

from typing import Callable

import numpy as np
import tensorflow as tf

from tfprune_rl import pruning, summaries
from tfprune_rl.agents.continuous import (
    BcAgent, ContinuousHyperparams, SacAgent, Td3Agent, Td3BcAgent,
)
from tfprune_rl.envs import continuous_specs, make_continuous_env
from tfprune_rl.export import CHECK_OBSERVATIONS
from tfprune_rl.export.actor_export import export_actor
from tfprune_rl.networks.actor_critic import ActorNetwork, CriticNetwork
from tfprune_rl.offline.chunk import DatasetError
from tfprune_rl.offline.transitions import References, Transitions, load_transitions
from tfprune_rl.replay import ReplayBuffer
from tfprune_rl.lifecycle.run_config import updates_between
from tfprune_rl.continuous.config import ContinuousConfig
from tfprune_rl.envs.evaluation import EVAL_SEED_OFFSET, evaluate
from tfprune_rl.lifecycle.lottery import source_masks, source_seed
from tfprune_rl.lifecycle.recent_returns import RecentReturns
from tfprune_rl.lifecycle.runner import check_finite, run
from tfprune_rl.lifecycle.timing import PhaseTimer


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


def make_agent(config: ContinuousConfig, observation_spec, action_spec, observation_stats,
               updater: pruning.Updater):
    """The agent with its networks wrapped by `updater` (the run's pruning method; none when
    dense); a lottery ticket's networks start at its source run's initialization."""
    transform = updater.wrap if config.pruning.sparsity > 0 else None
    source = config.pruning.mask_from
    mean, std = observation_stats
    network_args = dict(hidden_units=config.hidden_units, width=config.width,
                        observation_mean=mean, observation_std=std, layer_transform=transform,
                        seed=source_seed(source) if source else config.seed)
    gaussian = config.agent in ("sac", "cql_sac")
    actor = ActorNetwork(observation_spec, action_spec, gaussian=gaussian, **network_args)
    hyperparams = ContinuousHyperparams()
    if config.agent == "bc":
        return BcAgent(actor, hyperparams, config.seed)
    critic = CriticNetwork((observation_spec, action_spec), **network_args)
    if config.agent in ("td3", "td3_bc"):
        agent_class = Td3Agent if config.agent == "td3" else Td3BcAgent
        return agent_class(actor, critic, hyperparams, config.seed)
    return SacAgent(actor, critic, hyperparams, config.seed, conservative=config.agent == "cql_sac")


def _tensors(batch: dict) -> dict:
    return {name: tf.constant(value) for name, value in batch.items()}


def network_sparsities(agent) -> dict[str, float]:
    """Zeros in each network's kernels."""
    return {name: pruning.total_sparsity(pruning.kernel_sparsity(net.stack))
            for name, net in agent.networks.items()}


class ContinuousTrainer:
    """Offline: one update per step on a uniform batch of the dataset. `OnlineContinuousTrainer`
    changes where batches come from and what a step collects."""

    clock, unit = "update", "updates"

    def __init__(self, config: ContinuousConfig, log: Callable[[str], None] = print):
        self.config = config
        self.log = log
        self.root_dir = config.root_dir
        self.intervals = config.intervals
        self.timer = PhaseTimer()
        self.env = make_continuous_env(config.env_id,
                                       "rgb_array" if config.capture_video else None)
        observation_spec, self.action_spec = continuous_specs(self.env)
        self.updater = pruning.create_updater(config.pruning)
        self.agent = make_agent(config, observation_spec, self.action_spec,
                                self._open_data(observation_spec), self.updater)
        self.networks = self.agent.networks
        self.kernels = {name: pruning.masked_kernels(net.stack)
                        for name, net in self.agent.networks.items()}
        self.mask_updates = self.updater.update_steps()
        self.train_step = tf.function(self.agent.train, jit_compile=True)
        self.update_masks = tf.function(self._update_masks, jit_compile=True)
        self.act = tf.function(lambda observation: self.agent.actor(observation)[0],
                               jit_compile=True)
        self.losses = {}

    def _open_data(self, observation_spec) -> tuple:
        """Reads the dataset; returns the observations' mean and std, which the networks
        normalize by."""
        config = self.config
        self.replay = None  # the dataset is read again on resume, never checkpointed
        self.transitions, self.references = load_transitions(config.dataset_path)
        if config.reference_returns is not None:
            self.references = References(*config.reference_returns)
        check_dataset(self.transitions, observation_spec, self.action_spec, config.dataset_path)
        return self.transitions.observation_stats()

    def _batch(self, rng: np.random.Generator) -> dict:
        """A training batch as the agents read it (observation, action, reward,
        next_observation, terminal)."""
        return self.transitions.sample(self.config.batch_size, rng)

    def describe(self) -> str:
        c = self.config
        pruned = (f"{c.pruning.sparsity:.0%} sparse ({c.pruning.method})"
                  if c.pruning.sparsity > 0 else "dense")
        source = "online" if c.online else f"offline on {c.dataset_path}"
        return (f"{c.agent} on {c.env_id}, mlp {'-'.join(map(str, c.hidden_units))} "
                f"x{c.width}, {pruned}, {c.total_steps:,} {self.unit}, {source}")

    def checkpointed(self) -> dict:
        return {"agent": self.agent, "pruning": self.updater}

    def divergence_hint(self) -> str:
        return f"--learning_rate={self.agent.hyperparams.learning_rate:g} (lower it)"

    def start(self, position: int) -> None:
        config, references = self.config, self.references
        episodes = self.transitions.episode_returns()
        self.log(f"dataset {config.dataset_path}: {len(self.transitions):,} transitions, "
                 f"{len(episodes)} episodes, mean return "
                 f"{np.mean(episodes) if episodes else float('nan'):.1f}; references "
                 + (f"random {references.random:.1f}, expert {references.expert:.1f}"
                    if references else "none (no normalized score)"))
        self.updates = self.logged_updates = int(self.agent.updates.numpy())

    def _initialize_masks(self) -> None:
        """Each network's masks from the method, before the first update (scored with its own
        loss, on `saliency_batches` training batches, when the method reads a loss)."""
        config = self.config
        source = config.pruning.mask_from
        tickets = (source_masks(source, self.agent.networks, lambda copies: {"networks": copies})
                   if source else {})
        rng = np.random.default_rng([config.seed, 1])
        batches = ([_tensors(self._batch(rng)) for _ in range(config.pruning.saliency_batches)]
                   if self.updater.reads_loss else ())
        losses = self.agent.network_losses()
        for name, kernels in self.kernels.items():
            self.updater.initialize(kernels, losses[name], batches, tickets.get(name))
        self.agent.sync_targets()
        sparsities = network_sparsities(self.agent)
        if any(sparsities.values()):
            self.log(f"{config.pruning.method} masks before the first update: " + ", ".join(
                f"{name} {value:.4f} sparse" for name, value in sparsities.items()))

    def _update_masks(self, step, batch) -> None:
        """Every network's masks after update `step` (`batch` for a method's loss)."""
        losses = self.agent.network_losses()
        for name, kernels in self.kernels.items():
            self.updater.update(kernels, step, losses[name], batch)
            self.agent.optimizers[name].zero_pruned_moments()

    def _update(self) -> None:
        """One gradient update (masks first, before the first one), then the masks due."""
        config = self.config
        if not self.updates and config.pruning.sparsity:
            with self.timer.phase("masks"):
                self._initialize_masks()
        with self.timer.phase("replay"):
            batch = _tensors(self._batch(np.random.default_rng([config.seed, self.updates, 2])))
        with self.timer.phase("learner"):
            self.losses = self.train_step(batch, self.updates % self.agent.policy_delay == 0)
        check_finite(np.array([float(v) for v in self.losses.values()]), self.updates + 1,
                     self.divergence_hint())
        self.updates += 1
        if self.updates in self.mask_updates:
            with self.timer.phase("masks"):
                self.update_masks(tf.constant(self.updates, tf.int64), _tensors(self._batch(
                    np.random.default_rng([config.seed, self.updates, 4])))
                    if self.updater.reads_loss else {})

    def advance(self) -> int:
        self._update()
        return self.updates

    def settle(self) -> None:
        pass  # every step makes its updates

    def before_checkpoint(self, position: int) -> None:
        pass

    def _progress_source(self, seconds: float) -> str:
        """The progress line's start: how far the run is and how fast it goes."""
        return (f"updates {self.updates:,}/{self.config.num_updates:,} | "
                f"{(self.updates - self.logged_updates) / seconds:.0f} updates/s")

    def progress(self, seconds: float) -> tuple[str, dict]:
        line = self._progress_source(seconds)
        throughput = {"updates_per_second": (self.updates - self.logged_updates) / seconds,
                      "phase_seconds": self.timer.lap()}
        self.logged_updates = self.updates
        sparsities = network_sparsities(self.agent)
        losses = {name: float(value) for name, value in self.losses.items()}
        position = self.counters()[self.clock]
        for name, value in losses.items():
            summaries.scalar("loss", name, value, position)
        for name, value in sparsities.items():
            summaries.scalar("sparsity", name, value, position)
        line += (" | " + (" ".join(f"{k} {v:.3f}" for k, v in losses.items()) or "no update yet")
                 + " | sparsity " + " ".join(f"{k} {v:.3f}" for k, v in sparsities.items()))
        return line, throughput

    def evaluate(self, frames: list | None) -> list[float]:
        return evaluate(self.env, lambda o: self.act(tf.constant(o, tf.float32)).numpy(),
                        self.config.eval_episodes, self.config.seed + EVAL_SEED_OFFSET, frames)

    def counters(self) -> dict:
        return {"update": self.updates, "env_step": 0}

    def score(self, mean_return: float) -> dict:
        return ({"normalized_score": self.references.normalize(mean_return)}
                if self.references else {})

    def _check_observations(self) -> np.ndarray:
        return self.transitions.observations[np.random.default_rng(self.config.seed).integers(
            0, len(self.transitions), CHECK_OBSERVATIONS)]

    def export(self, export_dir: str) -> dict:
        config = self.config
        metadata = {"env_id": config.env_id, "mode": config.mode, "agent": config.agent,
                    "pruning": config.pruning.method, "target_sparsity": config.pruning.sparsity,
                    "seed": config.seed}
        return export_actor(self.agent.actor, self.action_spec, export_dir,
                            self._check_observations(), metadata, self.updates)

    def metrics(self) -> dict:
        config = self.config
        return {
            "env_id": config.env_id, "mode": config.mode, "agent": config.agent,
            "pruning": config.pruning.method, "target_sparsity": config.pruning.sparsity,
            "seed": config.seed,
            "width": config.width, "network_sparsity": network_sparsities(self.agent),
            "train_steps": self.updates, **self._data_metrics()}

    def _data_metrics(self) -> dict:
        references = self.references
        return {
            "normalized_score": None,
            "reference_returns": ({"random": references.random, "expert": references.expert}
                                  if references else None),
            "dataset": {"path": self.config.dataset_path, "transitions": len(self.transitions),
                        "episodes": len(self.transitions.episode_returns())},
        }


class OnlineContinuousTrainer(ContinuousTrainer):
    """Online SAC or TD3: a step acts in the env (uniformly random for the first
    `learning_starts` steps, then `agent.explore`), stores the transition, and makes the
    update due every `update_period` steps on a uniform replay batch. The replay is
    checkpointed with the run; on resume the env starts a new episode, and the one cut short is
    never sampled past its last stored step."""

    clock, unit = "env_step", "env steps"
    references = None

    def _open_data(self, observation_spec) -> tuple:
        config = self.config
        self.collect_env = make_continuous_env(config.env_id)
        self.replay = ReplayBuffer(  # one-step transitions; `_batch` reads termination only
            config.replay_capacity, observation_spec.shape, np.float32, config.seed,
            action_shape=self.action_spec.shape, action_dtype=np.float32)
        self.explore = tf.function(lambda observation: self.agent.explore(observation),
                                   jit_compile=True)
        self.recent_returns = RecentReturns()
        return 0.0, 1.0  # raw observations: there is no dataset to normalize by

    def _batch(self, rng):
        batch = self.replay.sample(self.config.batch_size, rng)
        return {"observation": batch["observation"], "action": batch["action"],
                "reward": batch["reward"], "next_observation": batch["next_observation"],
                "terminal": (batch["discount"] == 0).astype(np.float32)}

    def start(self, position: int) -> None:
        self.env_step = self.logged_env_step = position
        self.updates = self.logged_updates = int(self.agent.updates.numpy())
        self.replay.start_episode(0)  # an episode cut by a restart is never sampled whole
        self.observation, _ = self.collect_env.reset(seed=self.config.seed + position)
        self.episode_return = 0.0

    def advance(self) -> int:
        config = self.config
        with self.timer.phase("actor"):
            if self.env_step < config.learning_starts:
                spec = self.action_spec
                action = np.random.default_rng([config.seed, self.env_step, 5]).uniform(
                    spec.minimum, spec.maximum).astype(np.float32)
            else:
                action = self.explore(tf.constant(self.observation[None], tf.float32))[0].numpy()
        with self.timer.phase("env"):
            next_observation, reward, terminated, truncated, _ = self.collect_env.step(action)
        with self.timer.phase("replay"):
            self.replay.add(self.observation[None], action[None], [reward], [terminated],
                            [truncated], next_observation[None])
        self.episode_return += reward
        self.observation = next_observation
        if terminated or truncated:
            self.recent_returns.add(self.episode_return)
            self.episode_return = 0.0
            self.observation, _ = self.collect_env.reset()
        self.env_step += 1
        while self.updates < updates_between(config.learning_starts,
                                             max(self.env_step, config.learning_starts),
                                             config.update_period):
            self._update()
        return self.env_step

    def _progress_source(self, seconds: float) -> str:
        steps_per_second = (self.env_step - self.logged_env_step) / seconds
        self.logged_env_step = self.env_step
        if (mean := self.recent_returns.mean()) is not None:
            summaries.scalar("return", "train", mean, self.env_step)
        return (f"env steps {self.env_step:,}/{self.config.num_env_steps:,} | "
                f"{steps_per_second:,.0f} steps/s, "
                f"{(self.updates - self.logged_updates) / seconds:,.0f} updates/s | "
                f"{self.recent_returns}")

    def counters(self) -> dict:
        return {"env_step": self.env_step, "update": self.updates}

    def _check_observations(self) -> np.ndarray:
        return self.replay.sample(CHECK_OBSERVATIONS, np.random.default_rng(
            [self.config.seed, EVAL_SEED_OFFSET]))["observation"]

    def _data_metrics(self) -> dict:
        return {"env_steps": self.env_step,
                "replay_bytes_per_transition": self.replay.nbytes / self.replay.capacity}


def train_continuous(config: ContinuousConfig, log: Callable[[str], None] = print) -> dict:
    """Trains a continuous-control run in `config.root_dir`, resuming."""
    trainer = OnlineContinuousTrainer if config.online else ContinuousTrainer
    return run(trainer(config, log), log)
