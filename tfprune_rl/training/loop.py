"""The training loop: collect, update, evaluate, checkpoint, export. Read it top to bottom."""

import collections
import json
import os
import time
from typing import Callable

import numpy as np
import tensorflow as tf
from tf_agents.policies import epsilon_greedy_policy, py_tf_eager_policy
from tf_agents.specs import tensor_spec
from tf_agents.trajectories import policy_step, time_step as ts, trajectory

from tfprune_rl import pruning
from tfprune_rl.agents import create_agent, linearly_decaying_epsilon
from tfprune_rl.envs import make_env
from tfprune_rl.export import export_saved_model, saved_kernels
from tfprune_rl.networks import QNetwork
from tfprune_rl.replay import UniformReplay
from tfprune_rl.training.checkpoints import RunCheckpoints
from tfprune_rl.training.config import TrainConfig
from tfprune_rl.training.evaluation import evaluate

EVAL_SEED_OFFSET = 10_000
RECENT_EPISODES = 10


def as_transition(batch: dict[str, tf.Tensor]) -> trajectory.Transition:
    """A replay batch as the `Transition` a DqnAgent trains on.

    The agent reads observation, action, reward and discount; every stored transition starts
    mid-episode (never at a LAST step), so both step types are MID.
    """
    mid = tf.fill(tf.shape(batch["reward"]), ts.StepType.MID)
    first = ts.TimeStep(mid, tf.zeros_like(batch["reward"]), tf.ones_like(batch["discount"]),
                        batch["observation"])
    second = ts.TimeStep(mid, batch["reward"], batch["discount"], batch["next_observation"])
    return trajectory.Transition(first, policy_step.PolicyStep(batch["action"], (), ()), second)


def train(config: TrainConfig, log: Callable[[str], None] = print) -> dict:
    """Trains one run in `config.root_dir`, resuming from its latest checkpoint."""
    tf.keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()
    env = make_env(config.env_id, config.seed)
    eval_env = make_env(config.env_id, config.seed + EVAL_SEED_OFFSET)
    time_step_spec = tensor_spec.from_spec(env.time_step_spec())
    action_spec = tensor_spec.from_spec(env.action_spec())

    layer_transform = None
    if config.sparsity > 0:
        layer_transform = pruning.PruningConfig(
            config.sparsity, config.total_updates, config.distribution, config.schedule
        ).wrap
    q_network = QNetwork(
        time_step_spec.observation, action_spec, config.hidden_units, config.width, layer_transform
    )
    env_steps = tf.Variable(0, dtype=tf.int64, name="env_steps")

    def epsilon():
        return linearly_decaying_epsilon(
            env_steps, config.learning_starts, config.epsilon_decay_steps, config.epsilon_final
        )

    agent = create_agent(
        config.agent, time_step_spec, action_spec, q_network, config.hparams, epsilon,
        train_step_counter=tf.Variable(0, dtype=tf.int64, name="train_steps"),
    )
    wrappers = pruning.pruning_wrappers(q_network.stack)

    @tf.function
    def train_step(batch):
        with tf.summary.record_if(False):  # the loop writes its own summaries, periodically
            loss = agent.train(as_transition(batch)).loss
        pruning.update_masks(wrappers, agent.train_step_counter)
        return loss

    observation_spec = env.observation_spec()
    replay = UniformReplay(
        config.replay_capacity, observation_spec.shape, observation_spec.dtype, config.seed
    )
    wall_time = tf.Variable(0.0, dtype=tf.float64, name="wall_time_s")
    checkpoints = RunCheckpoints(
        os.path.join(config.root_dir, "checkpoints"), replay,
        agent=agent, env_steps=env_steps, wall_time=wall_time,
    )
    step = checkpoints.restore()
    metrics_path = os.path.join(config.root_dir, "metrics.json")
    if step >= config.num_env_steps and os.path.exists(metrics_path):
        log(f"run in {config.root_dir} is already complete at {step:,} env steps")
        with open(metrics_path) as f:
            return json.load(f)
    if step:
        log(f"resumed from env step {step:,} (update {int(agent.train_step_counter):,})")
        env.reseed(config.seed + step)

    collect_policy = py_tf_eager_policy.PyTFEagerPolicy(agent.collect_policy, use_tf_function=True)
    eval_policy = py_tf_eager_policy.PyTFEagerPolicy(
        epsilon_greedy_policy.EpsilonGreedyPolicy(agent.policy, epsilon=config.eval_epsilon),
        use_tf_function=True,
    )
    writer = tf.summary.create_file_writer(os.path.join(config.root_dir, "tensorboard"))
    recent_returns = collections.deque(maxlen=RECENT_EPISODES)
    episode_return, loss = 0.0, float("nan")
    session_start = last_log_time = time.time()
    last_log_step = step
    time_step = env.reset()

    def evaluate_and_log(at_step: int) -> list[float]:
        returns = evaluate(
            eval_env, eval_policy, config.eval_episodes, config.seed + EVAL_SEED_OFFSET
        )
        tf.summary.scalar("eval/return", np.mean(returns), step=at_step)
        log(f"eval at env step {at_step:,}: mean return {np.mean(returns):.1f} "
            f"over {len(returns)} episodes")
        return returns

    with writer.as_default():
        while step < config.num_env_steps:
            action = collect_policy.action(time_step).action
            next_time_step = env.step(action)
            replay.add(time_step.observation, action, next_time_step.reward,
                       next_time_step.discount, next_time_step.observation)
            episode_return += float(next_time_step.reward)
            step += 1
            env_steps.assign(step)
            if next_time_step.is_last():
                recent_returns.append(episode_return)
                tf.summary.scalar("train/episode_return", episode_return, step=step)
                episode_return = 0.0
                time_step = env.reset()
            else:
                time_step = next_time_step

            if step > config.learning_starts and step % config.update_period == 0:
                loss = train_step(replay.sample(config.batch_size))

            if step % config.log_interval == 0:
                now = time.time()
                steps_per_second = (step - last_log_step) / (now - last_log_time)
                last_log_time, last_log_step = now, step
                sparsity = _write_training_summaries(
                    q_network, step, float(loss), steps_per_second, recent_returns, float(epsilon())
                )
                log(
                    f"env steps {step:,}/{config.num_env_steps:,} | {steps_per_second:,.0f} steps/s | "
                    f"return {_mean(recent_returns):.1f} (last {len(recent_returns)} episodes) | "
                    f"sparsity {sparsity:.3f} | loss {float(loss):.4f}"
                )
            if step % config.eval_interval == 0 and step < config.num_env_steps:
                evaluate_and_log(step)
            if step % config.checkpoint_interval == 0 or step == config.num_env_steps:
                wall_time.assign_add(time.time() - session_start)
                session_start = time.time()
                checkpoints.save(step)
        returns = evaluate_and_log(step)

    export_dir = os.path.join(config.root_dir, "export", "saved_model")
    export_saved_model(q_network, action_spec, export_dir)
    metrics = _final_metrics(config, returns, export_dir, step, int(agent.train_step_counter),
                             float(wall_time.numpy()))
    _write_json_atomically(metrics_path, metrics)
    log(f"done: eval return {metrics['eval_return_mean']:.1f}, "
        f"sparsity {metrics['sparsity']:.4f} (read from {export_dir})")
    return metrics


def _mean(values) -> float:
    return float(np.mean(values)) if values else float("nan")


def _write_training_summaries(
    q_network: QNetwork, step: int, loss: float, steps_per_second: float,
    recent_returns, epsilon: float,
) -> float:
    """Writes the periodic scalars; returns the total kernel sparsity."""
    stats = pruning.kernel_sparsity(q_network.stack)
    pruning.write_sparsity_summaries(stats, step)
    tf.summary.scalar("train/loss", loss, step=step)
    tf.summary.scalar("train/steps_per_second", steps_per_second, step=step)
    tf.summary.scalar("train/epsilon", epsilon, step=step)
    if recent_returns:
        tf.summary.scalar("train/return", _mean(recent_returns), step=step)
    return pruning.total_sparsity(stats)


def _final_metrics(
    config: TrainConfig, returns: list[float], export_dir: str, env_steps: int,
    train_steps: int, wall_time_s: float,
) -> dict:
    """Final figures; sparsity is read from the exported files, not from the live network."""
    kernels = saved_kernels(export_dir)
    zeros = {name: int(np.sum(kernel == 0)) for name, kernel in kernels.items()}
    sizes = {name: int(kernel.size) for name, kernel in kernels.items()}
    return {
        "env_id": config.env_id,
        "agent": config.agent,
        "width": config.width,
        "target_sparsity": config.sparsity,
        "eval_return_mean": float(np.mean(returns)),
        "eval_returns": [float(r) for r in returns],
        "sparsity": sum(zeros.values()) / sum(sizes.values()),
        "layer_sparsity": {name: zeros[name] / sizes[name] for name in kernels},
        "env_steps": env_steps,
        "train_steps": train_steps,
        "wall_time_s": wall_time_s,
    }


def _write_json_atomically(path: str, data: dict) -> None:
    tmp_path = f"{path}.tmp-{os.getpid()}"
    with open(tmp_path, "w") as f:
        json.dump(data, f, indent=2)
    os.replace(tmp_path, path)
