"""What an env id says before the env is built: whether it exists, and its game. Checked before
TensorFlow is imported, so a bad --env answers at once. MinAtar is not imported for it (its
import takes seaborn, about 3 s): its games are the modules it ships."""

import importlib.util
import os
import re

import gymnasium as gym

ENV_EXAMPLES = "ALE/<Game>-v5, MinAtar/<Game>-v1, or a gymnasium id such as CartPole-v1"
CONTINUOUS_ENV_EXAMPLES = "a gymnasium id with Box actions, such as HalfCheetah-v5, Hopper-v5, " \
    "Walker2d-v5 or Pendulum-v1"


def game_name(env_id: str) -> str:
    """ALE/Breakout-v5 and MinAtar/Breakout-v1 -> Breakout."""
    return env_id.split("/")[-1].rsplit("-v", 1)[0]


def check_env_id(env_id: str, examples: str = ENV_EXAMPLES) -> None:
    """Refuses an id that names no registered env."""
    if env_id.startswith("MinAtar/"):
        known = re.fullmatch(r"MinAtar/(\w+)-v[01]", env_id) and _snake(game_name(env_id)) in \
            _minatar_games()
    else:
        if env_id.startswith("ALE/"):
            import ale_py  # registers the ALE/ ids

            gym.register_envs(ale_py)
        known = env_id in gym.registry
    if not known:
        raise ValueError(f"unknown env {env_id!r}; expected {examples}")


def _snake(game: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", game).lower()


def _minatar_games() -> set[str]:
    spec = importlib.util.find_spec("minatar")
    folder = os.path.join(os.path.dirname(spec.origin), "environments")
    return {name[:-3] for name in os.listdir(folder)
            if name.endswith(".py") and not name.startswith("_")}
