"""D4RL-style datasets made here: train SAC online on a continuous-control env and record.

As D4RL (Fu et al. 2020) builds them, with our SAC:
- `random`: a uniformly random policy;
- `medium`: the SAC policy halfway through training (D4RL stops at about a third of the
  expert's return; halfway is our stand-in on a fixed budget), sampled stochastically;
- `medium-replay`: every transition SAC collected up to that point;
- `expert`: the SAC policy at the end of training, sampled stochastically.
The reference returns for normalized scores are the mean returns of the random and expert
datasets' episodes, stored in `manifest.json` with each dataset's size and returns.
"""

import dataclasses
import json
import os
import time
from typing import Callable

import numpy as np
import tensorflow as tf

from tfprune_rl.agents.continuous import ContinuousHyperparams, SacAgent
from tfprune_rl.console import device_name
from tfprune_rl.envs import continuous_specs, make_continuous_env
from tfprune_rl.files import atomic_open
from tfprune_rl.lifecycle.run_dir import lock_run_dir
from tfprune_rl.continuous.config import GenerationConfig
from tfprune_rl.networks.actor_critic import ActorNetwork, CriticNetwork
from tfprune_rl.offline.transitions import FORMAT, MANIFEST, Transitions

KINDS = ("random", "medium", "medium-replay", "expert")


class _Recorder:
    """Transitions as they happen, and the returns of the episodes that end."""

    def __init__(self, capacity: int, observation_size: int, action_size: int):
        self.fields = {
            "observations": np.zeros((capacity, observation_size), np.float32),
            "actions": np.zeros((capacity, action_size), np.float32),
            "rewards": np.zeros(capacity, np.float32),
            "next_observations": np.zeros((capacity, observation_size), np.float32),
            "terminals": np.zeros(capacity, bool),
            "timeouts": np.zeros(capacity, bool),
        }
        self.size = 0

    def add(self, observation, action, reward, next_observation, terminated, truncated):
        i = self.size
        for name, value in zip(self.fields, (observation, action, reward, next_observation,
                                             terminated, truncated)):
            self.fields[name][i] = value
        self.size += 1

    def transitions(self, stop: int | None = None) -> Transitions:
        stop = self.size if stop is None else stop
        return Transitions(**{name: array[:stop] for name, array in self.fields.items()})


def _steps(env, act: Callable, count: int, recorder: _Recorder, seed: int,
           on_step: Callable[[int, list], None] = lambda step, returns: None) -> list[float]:
    """Runs `count` steps of `act`, recording each; returns the finished episodes' returns. The
    last episode is cut as a timeout, so that every dataset ends at an episode boundary."""
    observation, _ = env.reset(seed=seed)
    returns, episode_return = [], 0.0
    for step in range(count):
        action = act(observation)
        next_observation, reward, terminated, truncated, _ = env.step(action)
        truncated = truncated or step == count - 1
        recorder.add(observation, action, reward, next_observation, terminated, truncated)
        episode_return += float(reward)
        observation = next_observation
        if terminated or truncated:
            returns.append(episode_return)
            episode_return = 0.0
            observation, _ = env.reset()
        on_step(step + 1, returns)
    return returns


def generate_datasets(config: GenerationConfig, log: Callable[[str], None] = print) -> dict:
    """Writes random, medium, medium-replay and expert datasets and the manifest; returns it."""
    if os.path.exists(os.path.join(config.output_dir, MANIFEST)):
        raise ValueError(f"output_dir {config.output_dir} already holds datasets ({MANIFEST}); "
                         "choose another directory")
    env = make_continuous_env(config.env_id)
    observation_spec, action_spec = continuous_specs(env)
    observation_size, action_size = observation_spec.shape[0], action_spec.shape[0]
    log(f"SAC on {config.env_id}, mlp {'-'.join(map(str, config.hidden_units))}, "
        f"{config.train_steps:,} env steps, {len(KINDS)} datasets of {config.dataset_size:,} "
        f"transitions | {config.output_dir} | new datasets | {device_name()}")
    env.action_space.seed(config.seed)
    actor = ActorNetwork(observation_spec, action_spec, config.hidden_units, gaussian=True,
                         seed=config.seed)
    critic = CriticNetwork((observation_spec, action_spec), config.hidden_units, seed=config.seed)
    agent = SacAgent(actor, critic, ContinuousHyperparams(), seed=config.seed)
    train_step = tf.function(agent.train)
    sample = tf.function(lambda o: agent.sample(o)[0])
    rng = np.random.default_rng(config.seed)
    lock_run_dir(config.output_dir)  # one generator per directory, as one trainer per run
    datasets = {}

    def policy(observation):
        return sample(tf.constant(observation[np.newaxis], tf.float32))[0].numpy()

    def record(kind: str, act: Callable, seed: int):
        recorder = _Recorder(config.dataset_size, observation_size, action_size)
        record_env = make_continuous_env(config.env_id)  # SAC's own episode goes on meanwhile
        record_env.action_space.seed(seed)

        def progress(step: int, returns: list):
            if step % config.log_interval == 0:
                log(f"recording {kind}: steps {step:,}/{config.dataset_size:,}")

        _steps(record_env, act, config.dataset_size, recorder, seed, progress)
        write(kind, recorder.transitions())

    def write(kind: str, transitions: Transitions):
        path = os.path.join(config.output_dir, f"{kind}.npz")
        transitions.save(path)
        returns = transitions.episode_returns()
        datasets[kind] = {"file": os.path.basename(path), "transitions": len(transitions),
                          "episodes": len(returns), "mean_return": float(np.mean(returns))}
        log(f"{kind}: {len(transitions):,} transitions, {len(returns)} episodes, "
            f"mean return {np.mean(returns):.1f} -> {path}")

    record("random", lambda observation: env.action_space.sample(), config.seed)
    replay = _Recorder(config.train_steps, observation_size, action_size)
    start = time.time()
    medium_step = config.train_steps // 2

    def learn(step: int, returns: list):
        if step >= config.random_steps:
            batch = replay.transitions().sample(config.batch_size, rng)
            train_step({name: tf.constant(value) for name, value in batch.items()})
        if step == medium_step:
            collected = replay.transitions(step)
            cut = collected.timeouts.copy()
            cut[-1] = not collected.terminals[-1]  # SAC's episode in progress ends here
            write("medium-replay", dataclasses.replace(collected, timeouts=cut))
            record("medium", policy, config.seed + 1)
        if step % config.log_interval == 0:
            recent = f"{np.mean(returns[-10:]):.1f}" if returns else "-"
            log(f"sac steps {step:,}/{config.train_steps:,} | {step / (time.time() - start):.0f} "
                f"steps/s | return (last 10 episodes) {recent}")

    def act(observation):
        if replay.size < config.random_steps:
            return env.action_space.sample()
        return policy(observation)

    _steps(env, act, config.train_steps, replay, config.seed + 2, learn)
    record("expert", policy, config.seed + 3)
    manifest = {
        "format": FORMAT, "env_id": config.env_id, "generator": "SAC (tfprune_rl)",
        "train_steps": config.train_steps, "seed": config.seed,
        "reference_returns": {"random": datasets["random"]["mean_return"],
                              "expert": datasets["expert"]["mean_return"]},
        "datasets": datasets,
    }
    with atomic_open(os.path.join(config.output_dir, MANIFEST)) as f:
        json.dump(manifest, f, indent=2)
    return manifest
