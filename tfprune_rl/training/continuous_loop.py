"""Offline continuous control, top to bottom: load the dataset, build the agent, prune once at
initialization (or gradually), train on uniform batches, evaluate, checkpoint, export.

The run directory has what a value-based run's has: flags.txt (the entry point), tensorboard/,
checkpoints/ (networks with their masks, optimizers, update counter, RNG: a killed run resumes
to the same result), evaluations.jsonl, export/saved_model, metrics.json.
"""

import json
import os
import time
from typing import Callable

import numpy as np
import tensorflow as tf

from tfprune_rl.agents.continuous import (
    BcAgent, ContinuousHyperparams, SacAgent, Td3BcAgent,
)
from tfprune_rl.envs import continuous_specs, make_continuous_env
from tfprune_rl.export import CHECK_OBSERVATIONS, SAVED_MODEL
from tfprune_rl.export.actor_export import export_actor
from tfprune_rl.files import atomic_open
from tfprune_rl.networks.actor_critic import ActorNetwork, CriticNetwork
from tfprune_rl.offline.chunk import DatasetError
from tfprune_rl.offline.transitions import References, Transitions, load_transitions
from tfprune_rl.pruning import (
    GradualSchedule, PruningConfig, apply_masks, kernel_sparsity, total_sparsity,
)
from tfprune_rl.pruning.saliency import global_masks, install_masks, saliency_scores, wrap_fixed
from tfprune_rl.training.continuous_config import ContinuousConfig
from tfprune_rl.training.evaluation import EVAL_SEED_OFFSET, evaluate
from tfprune_rl.training.jsonl_log import JsonlLog


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
    """The agent with its networks wrapped for the configured pruning (none when dense)."""
    transform = None
    if config.sparsity > 0 and config.pruning == "gmp":
        transform = PruningConfig(config.sparsity, config.num_updates, "uniform",
                                  GradualSchedule()).wrap
    elif config.sparsity > 0:
        transform = wrap_fixed
    mean, std = observation_stats
    network_args = dict(hidden_units=config.hidden_units, width=config.width,
                        observation_mean=mean, observation_std=std, layer_transform=transform,
                        seed=config.seed)
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


def prune_at_initialization(agent, config: ContinuousConfig, transitions: Transitions) -> dict:
    """Scores each network's kernels with its own loss on `saliency_batches` batches, keeps the
    global top (1 - sparsity) per network, installs the masks; returns each network's sparsity."""
    rng = np.random.default_rng([config.seed, 1])
    batches = [_tensors(transitions.sample(config.batch_size, rng))
               for _ in range(config.saliency_batches)]
    sparsities = {}
    for name, loss in agent.saliency_losses().items():
        wrappers = agent.wrappers(name)
        kernels = [wrapper.pruning_vars[0][0] for wrapper in wrappers]
        scores = saliency_scores(config.pruning, kernels, loss, batches, config.seed)
        masks = global_masks(scores, config.sparsity)
        install_masks(wrappers, masks)
        sparsities[name] = 1.0 - sum(m.sum() for m in masks) / sum(m.size for m in masks)
    agent.sync_targets()
    return sparsities


def network_sparsities(agent) -> dict[str, float]:
    """Zeros in each network's kernels, re-masked first (Adam moves pruned entries)."""
    sparsities = {}
    for name, net in agent.networks.items():
        apply_masks(agent.wrappers(name))
        sparsities[name] = total_sparsity(kernel_sparsity(net.stack))
    return sparsities


def _restore_or_prune(agent, checkpoint, manager, config: ContinuousConfig,
                      transitions: Transitions, log: Callable[[str], None]) -> None:
    """Resumes from the latest checkpoint (masks included), or computes the single-shot masks
    of a new run; a dense or gradually pruned new run starts as built."""
    if manager.latest_checkpoint:
        checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        if config.pruning != "gmp":  # FixedMask's reported sparsity lives outside the checkpoint
            for name in agent.networks:
                wrappers = agent.wrappers(name)
                install_masks(wrappers, [w.pruning_vars[0][1].numpy() for w in wrappers])
        log(f"resumed from update {int(agent.updates.numpy()):,}")
    elif config.sparsity > 0 and config.pruning != "gmp":
        start = time.time()
        sparsities = prune_at_initialization(agent, config, transitions)
        log(f"{config.pruning} masks from {config.saliency_batches} batch(es) in "
            f"{time.time() - start:.1f} s: " + ", ".join(
                f"{name} {value:.4f} sparse" for name, value in sparsities.items()))


def train_continuous(config: ContinuousConfig, log: Callable[[str], None] = print) -> dict:
    os.makedirs(config.root_dir, exist_ok=True)
    transitions, references = load_transitions(config.dataset)
    if config.reference_returns is not None:
        references = References(*config.reference_returns)
    env = make_continuous_env(config.env_id)
    observation_spec, action_spec = continuous_specs(env)
    check_dataset(transitions, observation_spec, action_spec, config.dataset)
    agent = make_agent(config, observation_spec, action_spec, transitions.observation_stats())
    checkpoint = tf.train.Checkpoint(agent=agent)
    manager = tf.train.CheckpointManager(checkpoint, os.path.join(config.root_dir, "checkpoints"),
                                         max_to_keep=2)
    evaluations = JsonlLog(os.path.join(config.root_dir, "evaluations.jsonl"))
    metrics_path = os.path.join(config.root_dir, "metrics.json")
    episodes = transitions.episode_returns()
    log(f"dataset {config.dataset}: {len(transitions):,} transitions, {len(episodes)} episodes, "
        f"mean return {np.mean(episodes) if episodes else float('nan'):.1f}; references "
        + (f"random {references.random:.1f}, expert {references.expert:.1f}" if references
           else "none (no normalized score)"))
    _restore_or_prune(agent, checkpoint, manager, config, transitions, log)
    updates = int(agent.updates.numpy())
    evaluations.keep(lambda row: row["update"] <= updates)
    if updates >= config.num_updates and os.path.exists(metrics_path):
        log(f"run in {config.root_dir} is already complete at {updates:,} updates")
        with open(metrics_path) as f:
            return json.load(f)

    train_step = tf.function(agent.train)
    act = tf.function(lambda observation: agent.actor(observation)[0])
    writer = tf.summary.create_file_writer(os.path.join(config.root_dir, "tensorboard"))
    delay = agent.hyperparams.policy_delay if isinstance(agent, Td3BcAgent) else 1

    def evaluate_and_log() -> list[float]:
        returns = evaluate(env, lambda o: act(tf.constant(o, tf.float32)).numpy(),
                           config.eval_episodes, config.seed + EVAL_SEED_OFFSET)
        mean = float(np.mean(returns))
        row = {"update": updates, "env_step": 0, "return_mean": mean,
               "returns": [float(r) for r in returns]}
        tf.summary.scalar("eval/return", mean, step=updates)
        normalized = ""
        if references:
            row["normalized_score"] = references.normalize(mean)
            tf.summary.scalar("eval/normalized_score", row["normalized_score"], step=updates)
            normalized = f" (normalized {row['normalized_score']:.1f})"
        evaluations.append(row)
        log(f"eval at update {updates:,}: mean return {mean:.1f}{normalized} over "
            f"{len(returns)} episodes")
        return returns

    start, last_time, last_updates = time.time(), time.time(), updates
    returns, last_losses = [], {}
    with writer.as_default():
        while updates < config.num_updates:
            rng = np.random.default_rng([config.seed, updates, 2])
            losses = train_step(_tensors(transitions.sample(config.batch_size, rng)),
                                updates % delay == 0)
            updates += 1
            last_losses.update(losses)
            if updates % config.log_interval == 0:
                sparsities = network_sparsities(agent)
                for name, value in {**last_losses, **{f"sparsity/{k}": v for k, v in sparsities.items()}}.items():
                    tf.summary.scalar(name if "/" in name else f"train/{name}", value, step=updates)
                rate = (updates - last_updates) / (time.time() - last_time)
                last_time, last_updates = time.time(), updates
                log(f"updates {updates:,}/{config.num_updates:,} | {rate:.0f} updates/s | "
                    + " ".join(f"{k} {float(v):.3f}" for k, v in last_losses.items()) + " | sparsity "
                    + " ".join(f"{k} {v:.3f}" for k, v in sparsities.items()))
            if updates % config.eval_interval == 0 or updates == config.num_updates:
                returns = evaluate_and_log()
            if updates % config.checkpoint_interval == 0 or updates == config.num_updates:
                apply_masks([w for name in agent.networks for w in agent.wrappers(name)])
                manager.save(checkpoint_number=updates)

    if not returns:  # finished before a crash that left no metrics.json
        returns = evaluations.rows()[-1]["returns"]
    sparsities = network_sparsities(agent)
    mean_return = float(np.mean(returns))
    metadata = {"env_id": config.env_id, "agent": config.agent, "pruning": config.pruning,
                "target_sparsity": config.sparsity}
    check = transitions.observations[
        np.random.default_rng(config.seed).integers(0, len(transitions), CHECK_OBSERVATIONS)]
    export_dir = os.path.join(config.root_dir, "export")
    report = export_actor(agent.actor, action_spec, export_dir, check, metadata, updates)
    metrics = {
        "env_id": config.env_id, "mode": "offline", "agent": config.agent,
        "pruning": config.pruning, "target_sparsity": config.sparsity, "width": config.width,
        "eval_return_mean": mean_return, "eval_returns": [float(r) for r in returns],
        "normalized_score": references.normalize(mean_return) if references else None,
        "reference_returns": ({"random": references.random, "expert": references.expert}
                              if references else None),
        "sparsity": report["saved_model"]["sparsity"],
        "layer_sparsity": report["layer_sparsity"],
        "network_sparsity": sparsities,
        "train_steps": updates,
        "wall_time_s": time.time() - start,
        "dataset": {"path": config.dataset, "transitions": len(transitions),
                    "episodes": len(episodes)},
    }
    with atomic_open(metrics_path) as f:
        json.dump(metrics, f, indent=2)
    log(f"done: eval return {mean_return:.1f}"
        + (f" (normalized {metrics['normalized_score']:.1f})" if references else "")
        + f", sparsity {metrics['sparsity']:.4f} (read from {os.path.join(export_dir, SAVED_MODEL)})")
    return metrics
