"""An exported model playing its env, as a deployment runs it: through `serving_default`."""

import os

import numpy as np
import tensorflow as tf

from tfprune_rl.agents.registry import CONTINUOUS_AGENTS
from tfprune_rl.envs import make_continuous_env, make_gym_env
from tfprune_rl.export.run_export import SAVED_MODEL
from tfprune_rl.envs.evaluation import EVAL_SEED_OFFSET, evaluate


def saved_model_path(path: str) -> str:
    """`path` itself, or the SavedModel inside a run's export directory."""
    inner = os.path.join(path, SAVED_MODEL)
    return inner if os.path.isfile(os.path.join(inner, "saved_model.pb")) else path


def export_metadata(model) -> dict:
    """What the export records about its run (`get_metadata`), as Python values."""
    return {key: value.numpy().decode() if value.dtype == tf.string else value.numpy().item()
            for key, value in model.get_metadata().items()}


def play(path: str, env_id: str | None, episodes: int, seed: int | None,
         frames: list | None = None) -> tuple[list[float], dict]:
    """Returns of `episodes` episodes of the SavedModel at `path` and its metadata.

    The env is the run's unless `env_id` is given; episodes are seeded as the run's
    evaluations are (`seed`: the first episode's, default the run's evaluation seed), so a run
    evaluated greedily (--eval_epsilon=0) is reproduced episode by episode. `frames` (a list)
    receives the first episode's rgb frames.
    """
    model = tf.saved_model.load(saved_model_path(path))
    metadata = export_metadata(model)
    serve = model.signatures["serving_default"]
    spec = serve.structured_input_signature[1]["observation"]
    env_id = env_id or metadata["env_id"]
    render_mode = "rgb_array" if frames is not None else None
    if metadata["agent"] in CONTINUOUS_AGENTS:
        env = make_continuous_env(env_id, render_mode)
    else:
        env = make_gym_env(env_id, bool(metadata.get("sticky_actions", True)), render_mode)
    if tuple(env.observation_space.shape) != tuple(spec.shape[1:]):
        raise ValueError(f"env {env_id} has observations of shape "
                         f"{env.observation_space.shape}; the model takes {tuple(spec.shape[1:])}")
    if seed is None:
        seed = int(metadata.get("seed", 0)) + EVAL_SEED_OFFSET

    def act(observation: np.ndarray) -> np.ndarray:
        return serve(observation=tf.constant(observation, spec.dtype))["action"].numpy()

    returns = evaluate(env, act, episodes, seed, frames)
    env.close()
    return returns, metadata
