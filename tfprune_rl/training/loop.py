"""The training loop: collect, update, evaluate, checkpoint, export. Read it top to bottom."""

import collections
import json
import os
import time
from typing import Callable

import numpy as np
import tensorflow as tf
from tf_agents.policies import epsilon_greedy_policy
from tf_agents.trajectories import policy_step, time_step as ts, trajectory

from tfprune_rl import diagnostics, pruning
from tfprune_rl.agents import (
    make_optimizer, per_example_loss, recycle_dormant, reset_last_layer,
)
from tfprune_rl.envs import (
    env_specs, frame_stack_size, make_gym_env, make_vector_env, random_observations,
)
from tfprune_rl.export import CHECK_OBSERVATIONS, SAVED_MODEL, export_network
from tfprune_rl.files import atomic_open
from tfprune_rl.networks import QNetwork
from tfprune_rl.offline import DatasetRecorder, dataset_spec, load_dataset
from tfprune_rl.replay import ReplayBuffer
from tfprune_rl.training.build import (
    build_agent, build_q_network, collect_epsilon, export_metadata,
)
from tfprune_rl.training.checkpoints import RunCheckpoints
from tfprune_rl.training.config import TrainConfig, updates_between
from tfprune_rl.training.jsonl_log import JsonlLog
from tfprune_rl.training.evaluation import EVAL_SEED_OFFSET, evaluate
from tfprune_rl.training.timing import PhaseTimer

DATASET_DIR = "dataset"  # where --record_dataset writes, in the run directory
RECENT_EPISODES = 10


def as_transition(batch: dict[str, tf.Tensor]) -> trajectory.Transition:
    """A replay batch as the `Transition` the agents train on.

    The agents read observation, action, reward and discount; every stored transition starts
    mid-episode (never at a LAST step), so both step types are MID.
    """
    mid = tf.fill(tf.shape(batch["reward"]), ts.StepType.MID)
    first = ts.TimeStep(mid, tf.zeros_like(batch["reward"]), tf.ones_like(batch["discount"]),
                        batch["observation"])
    second = ts.TimeStep(mid, batch["reward"], batch["discount"], batch["next_observation"])
    return trajectory.Transition(first, policy_step.PolicyStep(batch["action"], (), ()), second)


def as_time_steps(observation: tf.Tensor) -> ts.TimeStep:
    """A batch of observations as the `TimeStep` a policy takes (policies read only these)."""
    batch_shape = tf.shape(observation)[:1]
    return ts.TimeStep(tf.fill(batch_shape, ts.StepType.MID), tf.zeros(batch_shape),
                       tf.ones(batch_shape), observation)


def train(config: TrainConfig, log: Callable[[str], None] = print) -> dict:
    """Trains one run in `config.root_dir`, resuming from its latest checkpoint.

    Online, each iteration steps the envs and makes the updates that are due. Offline, each
    iteration is one update on the fixed dataset; no env is stepped outside evaluation.
    """
    os.makedirs(config.root_dir, exist_ok=True)
    tf.keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()
    eval_env = make_gym_env(config.env_id, config.sticky_actions)
    observation_spec, action_spec = env_specs(eval_env)
    time_step_spec = ts.time_step_spec(observation_spec)

    q_network = build_q_network(config, observation_spec, action_spec)
    env_steps = tf.Variable(0, dtype=tf.int64, name="env_steps")
    epsilon = collect_epsilon(config, env_steps)
    optimizer = make_optimizer(config.hparams)
    agent = build_agent(config, time_step_spec, action_spec, q_network, epsilon, optimizer)
    wrappers = pruning.pruning_wrappers(q_network.stack)

    @tf.function(jit_compile=True)  # XLA fuses the many small ops: 1.5-2x faster on a CPU
    def train_step(batch):
        with tf.summary.record_if(False):  # the loop writes its own summaries, periodically
            loss_info = agent.train(as_transition(batch), weights=batch["weights"])
        pruning.update_masks(wrappers, agent.train_step_counter)
        return loss_info.loss, tf.sqrt(per_example_loss(loss_info) + 1e-10)

    collect = tf.function(lambda observation: agent.collect_policy.action(
        as_time_steps(observation)).action, jit_compile=True)
    eval_policy = epsilon_greedy_policy.EpsilonGreedyPolicy(agent.policy, config.eval_epsilon)
    act_for_eval = tf.function(lambda observation: eval_policy.action(
        as_time_steps(observation)).action, jit_compile=True)

    stack_size = frame_stack_size(config.env_id)
    if config.offline:
        envs = None
        replay, dataset = load_dataset(
            config.dataset_path, dataset_spec(config.env_id, eval_env), config.dataset_fraction,
            config.seed, config.n_step, config.hparams.gamma, config.clip_rewards)
        log(f"dataset {config.dataset_path} ({dataset['format']}): {dataset['rows']:,} rows in "
            f"{dataset['chunks']} chunk(s), {dataset['episodes']:,} finished episodes, "
            f"{dataset['bytes'] / 2**20:,.1f} MiB in memory")
    else:
        envs = make_vector_env(config.env_id, config.num_envs, config.sticky_actions)
        replay = ReplayBuffer(
            config.replay_capacity, observation_spec.shape,
            observation_spec.dtype.as_numpy_dtype, config.seed, stack_size=stack_size,
            n_step=config.n_step, gamma=config.hparams.gamma, num_streams=config.num_envs,
            scheme=config.replay_scheme, clip_rewards=config.clip_rewards,
        )
    wall_time = tf.Variable(0.0, dtype=tf.float64, name="wall_time_s")
    checkpoints = RunCheckpoints(  # a fixed dataset is read again, never checkpointed
        os.path.join(config.root_dir, "checkpoints"), None if config.offline else replay,
        agent=agent, env_steps=env_steps, wall_time=wall_time,
    )
    step = checkpoints.restore()
    unit = "updates" if config.offline else "env steps"
    metrics_path = os.path.join(config.root_dir, "metrics.json")
    if step >= config.total_steps and os.path.exists(metrics_path):
        log(f"run in {config.root_dir} is already complete at {step:,} {unit}")
        with open(metrics_path) as f:
            return json.load(f)
    updates = int(agent.train_step_counter)
    if step:
        log(f"resumed from update {step:,}" if config.offline
            else f"resumed from env step {step:,} (update {updates:,})")
    recorder = None
    if config.record_dataset:
        recorder = DatasetRecorder(
            os.path.join(config.root_dir, DATASET_DIR), replay,
            {"env_id": config.env_id, "sticky_actions": config.sticky_actions,
             "observation_shape": list(observation_spec.shape),
             "observation_dtype": observation_spec.dtype.name, "stack_size": stack_size,
             "rewards": "raw", "source_run": os.path.abspath(config.root_dir)})
        recorder.resume(step)
    diagnostics_log = JsonlLog(os.path.join(config.root_dir, "diagnostics.jsonl"))
    diagnostics_log.keep(lambda row: row["update"] <= updates)
    evaluation_log = JsonlLog(os.path.join(config.root_dir, "evaluations.jsonl"))
    # The final evaluation follows the last checkpoint, so a resumed run always redoes it.
    clock = "update" if config.offline else "env_step"
    evaluation_log.keep(lambda row: row[clock] <= min(step, config.total_steps - 1))
    last_diagnostics = (diagnostics_log.rows() or [{}])[-1]
    last_eval_return = [row["return_mean"] for row in evaluation_log.rows()[-1:]]

    writer = tf.summary.create_file_writer(os.path.join(config.root_dir, "tensorboard"))
    recent_returns = collections.deque(maxlen=RECENT_EPISODES)
    episode_returns = np.zeros(config.num_envs)
    loss, throughput = float("nan"), {}
    timer = PhaseTimer()
    session_start = last_log_time = time.time()
    last_log_step, last_log_updates = step, updates
    if envs is not None:
        for stream in range(config.num_envs):  # episodes cut by a restart are never sampled whole
            replay.start_episode(stream)
        observation, _ = envs.reset(seed=config.seed + step)

    def probe_observations(at_update: int) -> np.ndarray:
        """A replay batch drawn by its own generator, the same whenever the run is resumed."""
        rng = np.random.default_rng([config.seed, at_update])
        return replay.sample(config.diagnostics_batch_size, rng)["observation"]

    def evaluate_and_log(at_step: int) -> list[float]:
        returns = evaluate(eval_env, act_for_eval, config.eval_episodes,
                           config.seed + EVAL_SEED_OFFSET)
        last_eval_return[:] = [float(np.mean(returns))]
        tf.summary.scalar("eval/return", np.mean(returns), step=at_step)
        evaluation_log.append({"env_step": int(env_steps), "update": updates,
                               "return_mean": float(np.mean(returns)),
                               "returns": [float(r) for r in returns]})
        log(f"eval at {unit[:-1]} {at_step:,}: mean return {np.mean(returns):.1f} "
            f"over {len(returns)} episodes")
        return returns

    with writer.as_default():
        while step < config.total_steps:
            previous_step = step
            if config.offline:
                step, due_updates = step + 1, 1
            else:
                with timer.phase("act"):
                    action = collect(observation).numpy()
                with timer.phase("env"):
                    next_observation, reward, terminated, truncated, info = envs.step(action)
                with timer.phase("replay"):
                    for i in range(config.num_envs):
                        ended = terminated[i] or truncated[i]
                        final = info["final_obs"][i] if ended else next_observation[i]
                        replay.add(i, observation[i], action[i], reward[i],
                                   terminated[i], truncated[i], final)
                episode_returns += reward
                for i in np.flatnonzero(terminated | truncated):
                    recent_returns.append(episode_returns[i])
                    tf.summary.scalar("train/episode_return", episode_returns[i],
                                      step=step + i + 1)
                    episode_returns[i] = 0.0
                observation = next_observation
                step += config.num_envs
                env_steps.assign(step)
                if recorder:
                    with timer.phase("record"):
                        recorder.maybe_flush(step)
                due_updates = updates_between(max(previous_step, config.learning_starts),
                                              max(step, config.learning_starts),
                                              config.update_period)

            for _ in range(due_updates):
                with timer.phase("replay"):
                    batch = replay.sample(config.batch_size, np.random.default_rng(
                        [config.seed, updates, 2]) if config.offline else None)
                with timer.phase("train"):
                    loss, priorities = train_step(batch)
                    priorities = priorities.numpy()  # waits for the step: its time counts here
                if config.replay_scheme == "prioritized":
                    replay.update_priorities(batch["indices"], priorities)
                updates += 1
                if updates % config.diagnostics_period == 0:
                    with timer.phase("diagnostics"):
                        last_diagnostics = _record_diagnostics(
                            q_network, probe_observations(updates), config.hparams.v_max,
                            step, int(env_steps), updates,
                        )
                        diagnostics_log.append(last_diagnostics)
                if config.redo_period and updates % config.redo_period == 0:
                    with timer.phase("train"):
                        recycled = recycle_dormant(
                            q_network, optimizer, probe_observations(updates), config.redo_tau,
                            np.random.default_rng([config.seed, updates, 0]))
                    tf.summary.scalar("redo/recycled_neurons",
                                      sum(r.size for r in recycled.values()), step=step)
                if config.reset_period and updates % config.reset_period == 0:
                    with timer.phase("train"):
                        reset_last_layer(q_network, optimizer,
                                         np.random.default_rng([config.seed, updates, 1]))
                    tf.summary.scalar("reset/resets", updates // config.reset_period, step=step)

            if _crossed(previous_step, step, config.log_interval):
                now = time.time()
                throughput = {
                    "env_steps_per_second": (step - last_log_step) / (now - last_log_time),
                    "updates_per_second": (updates - last_log_updates) / (now - last_log_time),
                    "phase_seconds": timer.lap(),
                }
                last_log_time, last_log_step, last_log_updates = now, step, updates
                sparsity = _write_training_summaries(
                    q_network, step, float(loss), throughput, recent_returns,
                    None if config.offline else float(epsilon()),
                )
                if config.offline:
                    progress = (f"updates {step:,}/{config.num_updates:,} | "
                                f"{throughput['updates_per_second']:,.0f} updates/s | "
                                + (f"last eval return {last_eval_return[0]:.1f}"
                                   if last_eval_return else "no eval yet"))
                else:
                    progress = (
                        f"env steps {step:,}/{config.num_env_steps:,} | "
                        f"{throughput['env_steps_per_second']:,.0f} steps/s, "
                        f"{throughput['updates_per_second']:,.0f} updates/s | "
                        f"return {_mean(recent_returns):.1f} "
                        f"(last {len(recent_returns)} episodes)")
                log(f"{progress} | sparsity {sparsity:.3f} | loss {float(loss):.4f}"
                    + _diagnostics_summary(last_diagnostics))
            if _crossed(previous_step, step, config.eval_interval) and step < config.total_steps:
                with timer.phase("eval"):
                    evaluate_and_log(step)
            if (_crossed(previous_step, step, config.checkpoint_interval)
                    or step == config.total_steps):
                wall_time.assign_add(time.time() - session_start)
                session_start = time.time()
                with timer.phase("checkpoint"):
                    if recorder:
                        recorder.flush(step)
                    checkpoints.save(step)
        returns = evaluate_and_log(step)
    if envs is not None:
        envs.close()

    export_dir = os.path.join(config.root_dir, "export")
    if config.offline:  # observations from the data: no env steps outside evaluation
        check_observations = replay.sample(CHECK_OBSERVATIONS, np.random.default_rng(
            [config.seed, EVAL_SEED_OFFSET]))["observation"]
    else:
        check_observations = random_observations(config.env_id, config.sticky_actions,
                                                 CHECK_OBSERVATIONS, config.seed + EVAL_SEED_OFFSET)
    report = export_network(
        q_network, time_step_spec, action_spec, export_dir, check_observations,
        export_metadata(config, int(env_steps)), updates, config.hparams.v_max,
    )
    metrics = _final_metrics(config, returns, report, int(env_steps), updates,
                             float(wall_time.numpy()), throughput, replay)
    metrics["diagnostics"] = last_diagnostics
    if config.offline:
        metrics["dataset"] = dataset
    with atomic_open(metrics_path) as f:
        json.dump(metrics, f, indent=2)
    log(f"done: eval return {metrics['eval_return_mean']:.1f}, sparsity "
        f"{metrics['sparsity']:.4f} (read from {os.path.join(export_dir, SAVED_MODEL)})")
    return metrics


def _crossed(previous_step: int, step: int, interval: int) -> bool:
    return step // interval > previous_step // interval


def _mean(values) -> float:
    return float(np.mean(values)) if values else float("nan")


def _write_training_summaries(
    q_network: QNetwork, step: int, loss: float, throughput: dict, recent_returns,
    epsilon: float | None,
) -> float:
    """Writes the periodic scalars (the collection ones only online, when `epsilon` is given);
    returns the total kernel sparsity."""
    stats = pruning.kernel_sparsity(q_network.stack)
    pruning.write_sparsity_summaries(stats, step)
    tf.summary.scalar("train/loss", loss, step=step)
    tf.summary.scalar("train/updates_per_second", throughput["updates_per_second"], step=step)
    if epsilon is not None:
        tf.summary.scalar("train/steps_per_second", throughput["env_steps_per_second"],
                          step=step)
        tf.summary.scalar("train/epsilon", epsilon, step=step)
    total = sum(throughput["phase_seconds"].values())
    for phase, seconds in throughput["phase_seconds"].items():
        tf.summary.scalar(f"time_fraction/{phase}", seconds / total, step=step)
    if recent_returns:
        tf.summary.scalar("train/return", _mean(recent_returns), step=step)
    return pruning.total_sparsity(stats)


def _record_diagnostics(q_network: QNetwork, observations: np.ndarray, v_max: float,
                        step: int, env_step: int, updates: int) -> dict:
    """Writes the `diagnostics/` scalars; returns them, with the kernels' sparsity and pruning
    thresholds (in TensorBoard at every progress line), as one row."""
    values = diagnostics.measure(q_network, observations, v_max)
    for tag, value in values.items():
        tf.summary.scalar(tag, value, step=step)
    stats = pruning.kernel_sparsity(q_network.stack)
    sparsity = {f"sparsity/{layer.name}": layer.sparsity for layer in stats}
    sparsity["sparsity/total"] = pruning.total_sparsity(stats)
    thresholds = {f"threshold/{layer.name}": layer.threshold for layer in stats
                  if layer.threshold is not None}
    return {"env_step": env_step, "update": updates, **values, **sparsity, **thresholds}


def _diagnostics_summary(row: dict) -> str:
    """The two diagnostics the progress line shows, once there are any."""
    if not row:
        return ""
    dormant = row[f"{diagnostics.PREFIX}dormant_tau_0.1/all"]
    return f" | srank {row[f'{diagnostics.PREFIX}srank']:.0f}, dormant(0.1) {dormant:.1%}"


def _final_metrics(
    config: TrainConfig, returns: list[float], export_report: dict, env_steps: int,
    train_steps: int, wall_time_s: float, throughput: dict, replay: ReplayBuffer,
) -> dict:
    """Final figures; sparsity is the export's, read from its files, not from the live network."""
    return {
        "env_id": config.env_id,
        "mode": config.mode,
        "agent": config.agent,
        "encoder": config.encoder,
        "width": config.width,
        "target_sparsity": config.sparsity,
        "eval_return_mean": float(np.mean(returns)),
        "eval_returns": [float(r) for r in returns],
        "sparsity": export_report["saved_model"]["sparsity"],
        "layer_sparsity": export_report["layer_sparsity"],
        "env_steps": env_steps,
        "train_steps": train_steps,
        "wall_time_s": wall_time_s,
        "last_log_interval": throughput,
        "replay_bytes_per_transition": replay.nbytes / replay.capacity,
    }


