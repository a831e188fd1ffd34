"""Environments: gymnasium ids (Atari, MinAtar, classic control), single or vectorised. Each
name is imported from its module when first used (`tfprune_rl.lazy`)."""

from tfprune_rl.lazy import exports

__getattr__, __all__ = exports(__name__, {
    "ids": ("CONTINUOUS_ENV_EXAMPLES", "ENV_EXAMPLES", "check_env_id", "game_name"),
    "continuous": ("continuous_specs", "make_continuous_env"),
    "factory": ("env_specs", "frame_stack_size", "make_gym_env", "make_vector_env",
                "random_observations"),
})
