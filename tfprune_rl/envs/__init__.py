"""Environments: gymnasium ids (Atari, MinAtar, classic control), single or vectorised."""

from tfprune_rl.envs.factory import (
    ENV_EXAMPLES, env_specs, frame_stack_size, game_name, make_gym_env, make_vector_env,
    random_observations,
)

__all__ = ["ENV_EXAMPLES", "env_specs", "frame_stack_size", "game_name", "make_gym_env",
           "make_vector_env", "random_observations"]
