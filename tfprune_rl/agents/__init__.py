"""TF-Agents value-based agents behind one registry (`AGENTS`): DQN, double DQN, C51
(Rainbow-lite with n-step, prioritized replay), IQN and Munchausen-IQN, CQL and CQL+C51 for
offline data; and the re-initialization baselines (ReDo, last-layer reset). Each name is
imported from its module when first used (`tfprune_rl.lazy`)."""

from tfprune_rl.lazy import exports

__getattr__, __all__ = exports(__name__, {
    "registry": ("AGENTS", "AgentSpec", "CONTINUOUS_AGENTS", "DqnHyperparams", "ONLINE_AGENTS",
                 "agent_spec"),
    "create": ("create_agent", "make_optimizer", "per_example_loss", "sync_target"),
    "cql": ("conservative_penalty",),
    "exploration": ("epsilon_greedy", "linearly_decaying_epsilon"),
    "reinitialize": ("recycle_dormant", "reset_last_layer"),
})
