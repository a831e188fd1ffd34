"""Evaluation episodes with a fixed seed, so evaluations at different steps are comparable."""

from tf_agents.policies import py_policy

from tfprune_rl.envs import GymnasiumEnvironment


def evaluate(
    env: GymnasiumEnvironment, policy: py_policy.PyPolicy, num_episodes: int, seed: int
) -> list[float]:
    """Undiscounted return of each of `num_episodes` episodes."""
    env.reseed(seed)
    returns = []
    for _ in range(num_episodes):
        time_step = env.reset()
        episode_return = 0.0
        while not time_step.is_last():
            time_step = env.step(policy.action(time_step).action)
            episode_return += float(time_step.reward)
        returns.append(episode_return)
    return returns
