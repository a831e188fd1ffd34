"""Environments: gymnasium ids (Atari, MinAtar, classic control), single or vectorised."""

from tfprune_rl.envs.continuous import (
    CONTINUOUS_ENV_EXAMPLES, continuous_specs, make_continuous_env,
)
from tfprune_rl.envs.factory import (
    ENV_EXAMPLES, env_specs, frame_stack_size, game_name, make_gym_env, make_vector_env,
    random_observations,
)

__all__ = ["CONTINUOUS_ENV_EXAMPLES", "ENV_EXAMPLES", "continuous_specs", "make_continuous_env", "env_specs", "frame_stack_size", "game_name", "make_gym_env",
           "make_vector_env", "random_observations"]
