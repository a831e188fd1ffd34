"""Value-based training (every agent of `agents.AGENTS`): how a step collects and updates.

Online, a step acts in every env, steps them and stores the transitions; the updates due at
that point run first, in the same XLA call as the acting (`Learner`). Offline, a step is one
update on the fixed dataset; no env is stepped outside evaluation. The runner
(`lifecycle/runner.py`) owns everything else: resuming, intervals, checkpoints, export, metrics.

Target updates, mask updates, diagnostics, ReDo and resets happen right after the update at
which they are due, before any later update and before the next action: a call's updates are
split there.
"""

import os
from typing import Callable

import numpy as np
import tensorflow as tf
from tf_agents.trajectories import time_step as ts

from tfprune_rl import diagnostics, pruning, summaries
from tfprune_rl.agents import (
    epsilon_greedy, make_optimizer, recycle_dormant, reset_last_layer, sync_target,
)
from tfprune_rl.envs import (
    env_specs, frame_stack_size, make_gym_env, make_vector_env, random_observations,
)
from tfprune_rl.export import CHECK_OBSERVATIONS, export_network
from tfprune_rl.offline import DatasetRecorder, dataset_spec, load_dataset
from tfprune_rl.replay import ReplayBuffer
from tfprune_rl.value_based.build import (
    build_agent, build_q_network, collect_epsilon, export_metadata,
)
from tfprune_rl.value_based.augmentation import AUGMENTATIONS, check_augmentation
from tfprune_rl.lifecycle.run_config import updates_between
from tfprune_rl.value_based.config import TrainConfig
from tfprune_rl.envs.evaluation import EVAL_SEED_OFFSET, evaluate
from tfprune_rl.lifecycle.jsonl_log import JsonlLog
from tfprune_rl.value_based.events import Event, Events, every
from tfprune_rl.value_based.learner import Learner, training_loss
from tfprune_rl.lifecycle.lottery import source_masks, source_seed
from tfprune_rl.lifecycle.runner import check_finite
from tfprune_rl.lifecycle.recent_returns import RecentReturns
from tfprune_rl.lifecycle.timing import PhaseTimer

DATASET_DIR = "dataset"  # where --record_dataset writes, in the run directory
LOSS_BATCH = ("observation", "next_observation", "action", "reward", "discount")
AUGMENT_SEED = 3  # with the run's seed: the augmentation's own generator


class ValueBasedTrainer:
    """What online and offline training share: the network, agent, learner and events, and
    what the runner asks of every trainer (`lifecycle.runner.Trainer`)."""

    def __init__(self, config: TrainConfig, log: Callable[[str], None] = print):
        self.config = config
        self.log = log
        self.root_dir = config.root_dir
        self.intervals = config.intervals
        self.timer = PhaseTimer()
        # A lottery ticket's network starts at its source run's initialization.
        source = config.pruning.mask_from
        tf.keras.utils.set_random_seed(source_seed(source) if source else config.seed)
        tf.config.experimental.enable_op_determinism()
        self.eval_env = make_gym_env(config.env_id, config.sticky_actions,
                                     "rgb_array" if config.capture_video else None)
        observation_spec, self.action_spec = env_specs(self.eval_env)
        self.time_step_spec = ts.time_step_spec(observation_spec)
        self.updater = pruning.create_updater(config.pruning)
        self.q_network = build_q_network(config, observation_spec, self.action_spec, self.updater)
        self.networks = {"q_network": self.q_network}
        tf.keras.utils.set_random_seed(config.seed)
        self.env_steps = tf.Variable(0, dtype=tf.int64, name="env_steps")
        self.kernels = pruning.masked_kernels(self.q_network.stack)
        self.optimizer = make_optimizer(config.hparams, self.kernels)
        self.epsilon = collect_epsilon(config, self.env_steps)
        self.agent = build_agent(config, self.time_step_spec, self.action_spec, self.q_network,
                                 self.epsilon, self.optimizer)
        self.explore_rng = tf.random.Generator.from_seed(config.seed)
        self.eval_rng = tf.random.Generator.from_seed(config.seed + EVAL_SEED_OFFSET)
        self.augment_rng = tf.random.Generator.from_seed([config.seed, AUGMENT_SEED])
        check_augmentation(config.augmentation, observation_spec.shape)
        augmentation = AUGMENTATIONS[config.augmentation]
        self.learner = Learner(
            self.agent, self._collect_actions, observation_spec, config.batch_size,
            augmentation and (lambda images: augmentation(images, self.augment_rng)))
        self.loss = training_loss(self.agent)
        self.update_masks = tf.function(
            lambda step, batch: (self.updater.update(self.kernels, step, self.loss, batch),
                                 self.optimizer.zero_pruned_moments()), jit_compile=True)
        self.sync_target = tf.function(lambda: sync_target(self.agent), jit_compile=True)
        total = config.total_updates
        self.events = Events([  # in TF-Agents' order: the target first, as inside an update
            Event("learner", every(config.hparams.target_update_period, total),
                  lambda update: self.sync_target()),
            Event("masks", self.updater.update_steps(), self._update_masks),
            Event("diagnostics", every(config.diagnostics_period, total), self._diagnose),
            Event("baselines", every(config.redo_period, total), self._recycle_dormant),
            Event("baselines", every(config.reset_period, total), self._reset_last_layer),
        ], self.timer)
        self.act_for_eval = tf.function(lambda observation: self._epsilon_greedy(
            observation, config.eval_epsilon, self.eval_rng), jit_compile=True)
        self.replay = None  # online, the trainer's buffer; offline, the dataset (read on start)
        self.diagnostics_log = JsonlLog(os.path.join(config.root_dir, "diagnostics.jsonl"))
        self.last_diagnostics = {}
        self.losses = tf.constant([float("nan")])
        self.q_warned = False
        self.last_eval_return = None
        self.updates = self.env_step = 0

    # What the runner asks of a trainer (see `lifecycle.runner.Trainer`).

    def describe(self) -> str:
        c = self.config
        pruned = (f"{c.pruning.sparsity:.0%} sparse ({c.pruning.method}, "
                  f"{c.pruning.distribution})" if c.pruning.sparsity > 0 else "dense")
        augmented = "" if c.augmentation == "none" else f", {c.augmentation}"
        return (f"{c.agent} on {c.env_id}, {c.encoder} x{c.width}, {pruned}{augmented}, "
                f"{c.total_steps:,} {self.unit}, {self._source()}")

    def checkpointed(self) -> dict:
        return {"agent": self.agent, "env_steps": self.env_steps,
                "explore_rng": self.explore_rng, "augment_rng": self.augment_rng,
                "pruning": self.updater}

    def divergence_hint(self) -> str:
        h = self.config.hparams
        return (f"--learning_rate={h.learning_rate:g} or --adam_epsilon={h.adam_epsilon:g} "
                "(lower the first, raise the second)")

    def start(self, position: int) -> None:
        self.updates = self.logged_updates = int(self.agent.train_step_counter)
        self.env_step = self.logged_env_step = int(self.env_steps)
        self.diagnostics_log.keep(lambda row: row["update"] <= self.updates)
        self.last_diagnostics = (self.diagnostics_log.rows() or [{}])[-1]

    def settle(self) -> None:
        """Nothing is left due between steps (online overrides)."""

    def before_checkpoint(self, position: int) -> None:
        """Nothing to write beside a checkpoint (online overrides)."""

    def progress(self, seconds: float) -> tuple[str, dict]:
        throughput = {
            "env_steps_per_second": (self.env_step - self.logged_env_step) / seconds,
            "updates_per_second": (self.updates - self.logged_updates) / seconds,
            "phase_seconds": self.timer.lap()}
        self.logged_env_step, self.logged_updates = self.env_step, self.updates
        loss = float(self.losses[-1])
        sparsity = self._write_training_summaries(loss, throughput)
        line = f"{self._progress(throughput)} | sparsity {sparsity:.3f} | loss {loss:.4f}"
        self._check_q_estimates()
        return line + _diagnostics_summary(self.last_diagnostics), throughput

    def evaluate(self, frames: list | None) -> list[float]:
        self.eval_rng.reset_from_seed(self.config.seed + EVAL_SEED_OFFSET)  # as the env's seed
        returns = evaluate(self.eval_env, self.act_for_eval, self.config.eval_episodes,
                           self.config.seed + EVAL_SEED_OFFSET, frames)
        self.last_eval_return = float(np.mean(returns))
        return returns

    def counters(self) -> dict:
        return {"env_step": self.env_step, "update": self.updates}

    def score(self, mean_return: float) -> dict:
        return {}

    def export(self, export_dir: str) -> dict:
        return export_network(
            self.q_network, self.time_step_spec, self.action_spec, export_dir,
            self._check_observations(), export_metadata(self.config, self.env_step),
            self.updates)

    def metrics(self) -> dict:
        config = self.config
        return {"env_id": config.env_id, "mode": config.mode, "agent": config.agent,
                "encoder": config.encoder, "width": config.width,
                "pruning": config.pruning.method, "target_sparsity": config.pruning.sparsity,
                "seed": config.seed, "env_steps": self.env_step, "train_steps": self.updates,
                "replay_bytes_per_transition": self.replay.nbytes / self.replay.capacity,
                "diagnostics": self.last_diagnostics}

    # Updates, shared by both modes.

    def _learn(self, count: int, observation: np.ndarray | None) -> np.ndarray | None:
        """Makes `count` updates and then, given `observation`, returns the collect policy's
        actions for it: one XLA call. Masks are made right before the run's first update."""
        if count and not self.updates:
            self._initialize_masks()
        batch = self._sample(count) if count else None
        with self.timer.phase("learner"):  # the updates, and acting for every env
            actions, losses, priorities = self.learner(self.env_step, batch, observation)
        if count:
            check_finite(losses.numpy(), self.updates + 1, self.divergence_hint())
            self.losses = losses
            self.updates += count
            if self.config.replay_scheme == "prioritized":
                with self.timer.phase("replay"):
                    for indices, values in zip(batch["indices"].reshape(count, -1),
                                               priorities.numpy()):
                        self.replay.update_priorities(indices, values)
        return actions

    def _collect_actions(self, observation: tf.Tensor, env_step: tf.Tensor) -> tf.Tensor:
        """Epsilon-greedy at env step `env_step` (in the learner's XLA call)."""
        self.env_steps.assign(env_step)  # the epsilon schedule reads it
        return self._epsilon_greedy(observation, self.epsilon(), self.explore_rng)

    def _epsilon_greedy(self, observation, epsilon, generator) -> tf.Tensor:
        outputs, _ = self.q_network(observation)
        greedy_or_random = epsilon_greedy(self.q_network.q_values(outputs), epsilon, generator)
        return greedy_or_random + int(self.action_spec.minimum)

    def _loss_batches(self, count: int) -> list[dict]:
        """`count` batches for the pruning method's loss, drawn by their own generator (the
        same whenever the run is resumed)."""
        rng = np.random.default_rng([self.config.seed, self.updates, 4])
        return [{name: tf.constant(batch[name]) for name in LOSS_BATCH}
                for batch in (self.replay.sample(self.config.batch_size, rng)
                              for _ in range(count))]

    def _initialize_masks(self) -> None:
        """The method's masks, right before the first update (online, the replay buffer then
        holds `learning_starts` transitions to score on); the target network copies them."""
        config = self.config
        if not config.pruning.sparsity:
            return
        with self.timer.phase("masks"):
            ticket = (source_masks(config.pruning.mask_from, {"q_network": self.q_network},
                                   lambda copies: {"_q_network": copies["q_network"]})[
                                       "q_network"] if config.pruning.mask_from else None)
            batches = (self._loss_batches(config.pruning.saliency_batches)
                       if self.updater.reads_loss else ())
            self.updater.initialize(self.kernels, self.loss, batches, ticket)
            self.agent.initialize()  # the target network starts as the masked online one
        sparsity = pruning.total_sparsity(pruning.kernel_sparsity(self.q_network.stack))
        if sparsity:  # a method with masks at initialization
            self.log(f"{config.pruning.method} masks at the first update: {sparsity:.4f} sparse"
                     + (f", from {config.pruning.mask_from} at its initial weights"
                        if ticket else ""))

    # The events (`self.events`), each run right after the update it is due at.

    @property
    def _position(self) -> int:
        """Where TensorBoard puts this trainer's points: its clock (env steps online)."""
        return self.env_step

    def _update_masks(self, update: int) -> None:
        self.update_masks(tf.constant(update, tf.int64),
                          self._loss_batches(1)[0] if self.updater.reads_loss else {})

    def _diagnose(self, update: int) -> None:
        self.last_diagnostics = self._record_diagnostics()
        self.diagnostics_log.append(self.last_diagnostics)

    def _recycle_dormant(self, update: int) -> None:
        c = self.config
        recycled = recycle_dormant(self.q_network, self.optimizer, self._probe_observations(),
                                   c.redo_tau, np.random.default_rng([c.seed, update, 0]))
        summaries.scalar("train", "redo_recycled_neurons",
                         sum(r.size for r in recycled.values()), self._position)

    def _reset_last_layer(self, update: int) -> None:
        c = self.config
        reset_last_layer(self.q_network, self.optimizer,
                         np.random.default_rng([c.seed, update, 1]))
        summaries.scalar("train", "resets", update // c.reset_period, self._position)

    def _check_q_estimates(self) -> None:
        """Warns once when Q estimates exceed 10 x max|r| / (1 - gamma) on a replay batch: no
        return the rewards seen so far allow comes near, so training is likely diverging."""
        max_reward = self.replay.max_abs_reward() if self.updates else 0.0
        if self.q_warned or not max_reward:
            return
        outputs, _ = self.q_network(self._probe_observations())
        largest = float(tf.reduce_max(tf.abs(self.q_network.q_values(outputs))))
        bound = 10 * max_reward / (1 - self.config.hparams.gamma)
        if largest > bound:
            self.q_warned = True
            self.log(f"warning: Q estimates reach {largest:.3g} at update {self.updates:,}, "
                     f"beyond 10 x max|r| / (1 - gamma) = {bound:.3g}; training may be "
                     f"diverging ({self.divergence_hint()})")

    def _probe_observations(self) -> np.ndarray:
        """A replay batch drawn by its own generator, the same whenever the run is resumed."""
        rng = np.random.default_rng([self.config.seed, self.updates])
        return self.replay.sample(self.config.diagnostics_batch_size, rng)["observation"]

    def _record_diagnostics(self) -> dict:
        """Writes the `diagnostics/` scalars; returns them, with the kernels' sparsity and
        pruning thresholds (in TensorBoard at every progress line), as one row."""
        values = diagnostics.measure(self.q_network, self._probe_observations())
        for key, value in values.items():
            summaries.scalar("diagnostics", key.removeprefix(diagnostics.PREFIX), value,
                             self._position)
        stats = pruning.kernel_sparsity(self.q_network.stack)
        sparsity = {f"sparsity/{layer.name}": layer.sparsity for layer in stats}
        sparsity["sparsity/total"] = pruning.total_sparsity(stats)
        thresholds = {f"threshold/{layer.name}": layer.threshold for layer in stats
                      if layer.threshold is not None}
        return {"env_step": self.env_step, "update": self.updates, **values, **sparsity,
                **thresholds}

    def _write_training_summaries(self, loss: float, throughput: dict) -> float:
        """Writes the periodic scalars; returns the total kernel sparsity."""
        position = self._position
        stats = pruning.kernel_sparsity(self.q_network.stack)
        summaries.sparsity_scalars(stats, position)
        summaries.scalar("loss", "train", loss, position)
        summaries.scalar("train", "updates_per_second", throughput["updates_per_second"],
                         position)
        total = sum(throughput["phase_seconds"].values())
        for phase, seconds in throughput["phase_seconds"].items():
            summaries.scalar("time_fraction", phase, seconds / total, position)
        return pruning.total_sparsity(stats)


class OnlineTrainer(ValueBasedTrainer):
    """Collects in `num_envs` envs into its replay buffer, and learns from it."""

    clock, unit = "env_step", "env steps"

    def __init__(self, config: TrainConfig, log: Callable[[str], None] = print):
        super().__init__(config, log)
        observation_spec = self.time_step_spec.observation
        self.envs = make_vector_env(config.env_id, config.num_envs, config.sticky_actions)
        self.replay = ReplayBuffer(
            config.replay_capacity, observation_spec.shape,
            observation_spec.dtype.as_numpy_dtype, config.seed,
            stack_size=frame_stack_size(config.env_id), n_step=config.n_step,
            gamma=config.hparams.gamma, num_streams=config.num_envs,
            scheme=config.replay_scheme, clip_rewards=config.clip_rewards)
        self.recent_returns = RecentReturns()
        self.episode_returns = np.zeros(config.num_envs)
        self.recorder = None

    def advance(self) -> int:
        """One vector step: the updates due by now, each event right after the update it is
        due at, the collect policy's actions (in the same XLA call as the last updates), one
        step of every env, and its transitions stored."""
        actions = self._update_then_act()
        with self.timer.phase("env"):
            next_observation, reward, terminated, truncated, info = self.envs.step(actions)
        ended = terminated | truncated
        with self.timer.phase("replay"):
            final = next_observation
            if ended.any():  # gymnasium's vector envs give an object array, ale-py's an array
                final = next_observation.copy()
                final[ended] = np.stack(list(info["final_obs"][ended]))
            self.replay.add(self.observation, actions, reward, terminated, truncated, final)
        self._count_returns(reward, ended)
        self.observation = next_observation
        self.env_step += self.config.num_envs
        if self.recorder:
            with self.timer.phase("record"):
                self.recorder.maybe_flush(self.env_step)
        if self.env_step == self.config.num_env_steps:
            self.envs.close()
        return self.env_step

    def _update_then_act(self) -> np.ndarray:
        """The updates due by now, then the actions for the envs' observations, in one XLA
        call; an event splits it, so what follows the event sees what it changed."""
        due = self._due_updates()
        while True:
            count = min(due, self.events.next_due(self.updates) - self.updates)
            actions = self._learn(count, self.observation)
            due -= count
            if not (count and self.events.run(self.updates)):
                return actions

    def start(self, position: int) -> None:
        super().start(position)
        config = self.config
        if config.record_dataset:
            observation_spec = self.time_step_spec.observation
            self.recorder = DatasetRecorder(
                os.path.join(config.root_dir, DATASET_DIR), self.replay,
                {"env_id": config.env_id, "sticky_actions": config.sticky_actions,
                 "observation_shape": list(observation_spec.shape),
                 "observation_dtype": observation_spec.dtype.name,
                 "stack_size": frame_stack_size(config.env_id), "rewards": "raw",
                 "source_run": os.path.abspath(config.root_dir)})
            self.recorder.resume(position)
        for stream in range(config.num_envs):  # episodes cut by a restart are never sampled whole
            self.replay.start_episode(stream)
        self.observation, _ = self.envs.reset(seed=config.seed + position)

    def settle(self) -> None:
        """The updates due at the last env step, which `advance` makes at its next call."""
        if self._due_updates():
            self._update_then_act()  # the calls `advance` makes: the same run either way

    def before_checkpoint(self, position: int) -> None:
        if self.recorder:
            self.recorder.flush(position)

    def _due_updates(self) -> int:
        """Updates due by now and not made yet: one per `update_period` env steps after
        `learning_starts` (the last step's are made before the step is over)."""
        c = self.config
        return updates_between(c.learning_starts, max(self.env_step, c.learning_starts),
                               c.update_period) - self.updates

    def _sample(self, updates: int) -> dict:
        """The transitions of `updates` batches, in one draw."""
        with self.timer.phase("replay"):
            return self.replay.sample(updates * self.config.batch_size)

    def _source(self) -> str:
        return f"{self.config.num_envs} env{'s' * (self.config.num_envs > 1)}"

    def _progress(self, throughput: dict) -> str:
        return (f"env steps {self.env_step:,}/{self.config.num_env_steps:,} | "
                f"{throughput['env_steps_per_second']:,.0f} steps/s, "
                f"{throughput['updates_per_second']:,.0f} updates/s | {self.recent_returns}")

    def _write_training_summaries(self, loss: float, throughput: dict) -> float:
        """The collection's scalars too."""
        summaries.scalar("train", "steps_per_second", throughput["env_steps_per_second"],
                         self.env_step)
        summaries.scalar("train", "epsilon", float(self.epsilon()), self.env_step)
        if (mean := self.recent_returns.mean()) is not None:
            summaries.scalar("return", "train", mean, self.env_step)
        return super()._write_training_summaries(loss, throughput)

    def _check_observations(self) -> np.ndarray:
        c = self.config
        return random_observations(c.env_id, c.sticky_actions, CHECK_OBSERVATIONS,
                                   c.seed + EVAL_SEED_OFFSET)

    def _count_returns(self, reward: np.ndarray, ended: np.ndarray) -> None:
        """Training returns go to TensorBoard at progress lines (`train/return`, the mean of
        the last 10): a summary per episode cost 10% of a 16-env MinAtar run."""
        self.episode_returns += reward
        if ended.any():
            self.recent_returns.add(self.episode_returns[ended])
            self.episode_returns[ended] = 0.0


class OfflineTrainer(ValueBasedTrainer):
    """Learns from a fixed dataset, one update a step; the env runs evaluation episodes only.
    The dataset is read again on resume, never checkpointed."""

    clock, unit = "update", "updates"

    def advance(self) -> int:
        """One update on the dataset, then the events due after it."""
        self._learn(1, None)
        self.events.run(self.updates)
        return self.updates

    def start(self, position: int) -> None:
        super().start(position)
        config = self.config
        self.replay, self.dataset = load_dataset(
            config.dataset_path, dataset_spec(config.env_id, self.eval_env),
            config.dataset_fraction, config.seed, config.n_step, config.hparams.gamma,
            config.clip_rewards)
        self.log(f"dataset {config.dataset_path} ({self.dataset['format']}): "
                 f"{self.dataset['rows']:,} rows in {self.dataset['chunks']} chunk(s), "
                 f"{self.dataset['episodes']:,} finished episodes, "
                 f"{self.dataset['bytes'] / 2**20:,.1f} MiB in memory")

    def metrics(self) -> dict:
        return {**super().metrics(), "dataset": self.dataset}

    def _sample(self, updates: int) -> dict:
        """One seeded draw per update, so that a resumed run sees the same batches."""
        config = self.config
        draws = [self.replay.sample(config.batch_size, np.random.default_rng(
            [config.seed, self.updates + i, 2])) for i in range(updates)]
        return {name: np.concatenate([draw[name] for draw in draws]) for name in draws[0]}

    @property
    def _position(self) -> int:
        return self.updates

    def _source(self) -> str:
        return f"offline on {self.config.dataset_path}"

    def _progress(self, throughput: dict) -> str:
        return (f"updates {self.updates:,}/{self.config.num_updates:,} | "
                f"{throughput['updates_per_second']:,.0f} updates/s | "
                + (f"last eval return {self.last_eval_return:.1f}"
                   if self.last_eval_return is not None else "no eval yet"))

    def _check_observations(self) -> np.ndarray:
        """Observations from the data: no env steps outside evaluation."""
        return self.replay.sample(CHECK_OBSERVATIONS, np.random.default_rng(
            [self.config.seed, EVAL_SEED_OFFSET]))["observation"]


def value_based_trainer(config: TrainConfig, log: Callable[[str], None] = print):
    """The trainer of `config`'s mode."""
    return (OfflineTrainer if config.offline else OnlineTrainer)(config, log)


def _diagnostics_summary(row: dict) -> str:
    """The two diagnostics the progress line shows, once there are any."""
    if not row:
        return ""
    dormant = row[f"{diagnostics.PREFIX}dormant_tau_0.1/all"]
    return f" | srank {row[f'{diagnostics.PREFIX}srank']:.0f}, dormant(0.1) {dormant:.1%}"
