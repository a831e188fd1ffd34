"""The stock TF-Agents DQN pipeline, the reference `tools/benchmark.py` measures ours against.

    python tools/stock_tf_agents.py --env=MinAtar/Breakout-v1 --width=1 --num_env_steps=20000

Written the way TF-Agents' own DQN example trains, with TF-Agents' APIs only: a
`TFPyEnvironment`, a `DynamicStepDriver` running the collect policy for `update_period` env
steps into a `TFUniformReplayBuffer`, batches from its `as_dataset` pipeline, and
`common.function(agent.train)`. The network (our `QNetwork`, dense), the env (our gymnasium
env, as a `PyEnvironment`) and the hyperparameters are those of `experiments/minatar/dqn.flags`,
so the only difference from `tfprune-train` is the pipeline. Prints one JSON line: the env
steps/s and updates/s of the last `--log_interval` env steps.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tfprune_rl.console import quiet_startup  # noqa: E402

with quiet_startup():
    import tensorflow as tf
    from tf_agents.agents.dqn import dqn_agent
    from tf_agents.drivers import dynamic_step_driver
    from tf_agents.environments import py_environment, tf_py_environment
    from tf_agents.policies import random_tf_policy
    from tf_agents.replay_buffers import tf_uniform_replay_buffer
    from tf_agents.specs import array_spec
    from tf_agents.trajectories import time_step as ts
    from tf_agents.utils import common

    from tfprune_rl.agents import linearly_decaying_epsilon
    from tfprune_rl.envs import env_specs, make_gym_env
    from tfprune_rl.networks import QNetwork


class GymnasiumEnvironment(py_environment.PyEnvironment):
    """A gymnasium env as a TF-Agents `PyEnvironment` (tf-agents 0.19 wraps only gym)."""

    def __init__(self, env, seed: int):
        super().__init__(handle_auto_reset=True)
        self._env, self._seed = env, seed
        box = env.observation_space
        self._observation_spec = array_spec.BoundedArraySpec(
            box.shape, box.dtype, box.low, box.high, name="observation")
        self._action_spec = array_spec.BoundedArraySpec(
            (), np.int64, 0, env.action_space.n - 1, name="action")

    def observation_spec(self):
        return self._observation_spec

    def action_spec(self):
        return self._action_spec

    def _reset(self):
        observation, _ = self._env.reset(seed=self._seed)
        self._seed = None
        return ts.restart(observation)

    def _step(self, action):
        observation, reward, terminated, truncated, _ = self._env.step(int(action))
        reward = np.float32(reward)
        if terminated:
            return ts.termination(observation, reward)
        if truncated:
            return ts.truncation(observation, reward)
        return ts.transition(observation, reward)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="MinAtar/Breakout-v1")
    parser.add_argument("--encoder", default="minatar")
    parser.add_argument("--width", type=int, default=1)
    parser.add_argument("--num_env_steps", type=int, default=20_000)
    parser.add_argument("--learning_starts", type=int, default=5_000)
    parser.add_argument("--log_interval", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    # experiments/minatar/dqn.flags
    update_period, batch_size, capacity = 4, 32, 100_000
    tf.get_logger().setLevel("ERROR")  # TF-Agents' own deprecation notices
    tf.keras.utils.set_random_seed(args.seed)

    gym_env = make_gym_env(args.env)
    observation_spec, action_spec = env_specs(gym_env)
    env = tf_py_environment.TFPyEnvironment(GymnasiumEnvironment(gym_env, args.seed))
    q_network = QNetwork(observation_spec, action_spec, args.encoder, args.width)
    env_steps = tf.Variable(0, dtype=tf.int64)
    agent = dqn_agent.DqnAgent(
        env.time_step_spec(), env.action_spec(), q_network=q_network,
        optimizer=tf.keras.optimizers.Adam(2.5e-4, epsilon=3.125e-4),
        epsilon_greedy=lambda: linearly_decaying_epsilon(env_steps, args.learning_starts,
                                                         100_000, 0.1),
        td_errors_loss_fn=common.element_wise_huber_loss, gamma=0.99,
        target_update_period=1_000, train_step_counter=tf.Variable(0, dtype=tf.int64))
    agent.initialize()
    replay = tf_uniform_replay_buffer.TFUniformReplayBuffer(
        agent.collect_data_spec, batch_size=env.batch_size, max_length=capacity)

    def count_steps(trajectory):
        env_steps.assign_add(tf.cast(tf.size(trajectory.step_type), tf.int64))

    random_policy = random_tf_policy.RandomTFPolicy(env.time_step_spec(), env.action_spec())
    dynamic_step_driver.DynamicStepDriver(
        env, random_policy, observers=[replay.add_batch, count_steps],
        num_steps=args.learning_starts).run()
    driver = dynamic_step_driver.DynamicStepDriver(
        env, agent.collect_policy, observers=[replay.add_batch, count_steps],
        num_steps=update_period)
    driver.run = common.function(driver.run)
    agent.train = common.function(agent.train)
    dataset = replay.as_dataset(num_parallel_calls=3, sample_batch_size=batch_size,
                                num_steps=2).prefetch(3)
    iterator = iter(dataset)

    time_step, policy_state = env.current_time_step(), ()
    interval_start, interval_steps, updates = time.perf_counter(), 0, 0
    rates = {}
    for step in range(args.learning_starts, args.num_env_steps, update_period):
        time_step, policy_state = driver.run(time_step, policy_state)
        experience, _ = next(iterator)
        agent.train(experience)
        updates += 1
        interval_steps += update_period
        if (step + update_period) % args.log_interval == 0:
            seconds = time.perf_counter() - interval_start
            rates = {"env_steps_per_second": interval_steps / seconds,
                     "updates_per_second": interval_steps / update_period / seconds}
            print(f"env steps {step + update_period:,}/{args.num_env_steps:,} | "
                  f"{rates['env_steps_per_second']:,.0f} steps/s", file=sys.stderr, flush=True)
            interval_start, interval_steps = time.perf_counter(), 0
    print(json.dumps({**rates, "updates": updates}))


if __name__ == "__main__":
    main()
