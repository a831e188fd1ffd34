"""One place that turns an agent name and hyperparameters into a TF-Agents agent."""

import dataclasses
from typing import Callable

import tensorflow as tf
from tf_agents.agents.dqn import dqn_agent
from tf_agents.networks import network
from tf_agents.utils import common

AGENTS = ("dqn", "double_dqn")


@dataclasses.dataclass(frozen=True)
class DqnHyperparams:
    learning_rate: float
    adam_epsilon: float
    gamma: float
    target_update_period: int

    def __post_init__(self):
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate={self.learning_rate} must be > 0")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma={self.gamma} must be in [0, 1]")
        if self.target_update_period < 1:
            raise ValueError(f"target_update_period={self.target_update_period} must be >= 1")


def create_agent(
    name: str,
    time_step_spec,
    action_spec,
    q_network: network.Network,
    hparams: DqnHyperparams,
    epsilon: Callable[[], tf.Tensor],
    train_step_counter: tf.Variable,
) -> dqn_agent.DqnAgent:
    """DQN or double DQN with Huber loss, Adam and a hard target update every N updates."""
    if name not in AGENTS:
        raise ValueError(f"unknown agent {name!r}; choose one of {AGENTS}")
    agent_class = dqn_agent.DdqnAgent if name == "double_dqn" else dqn_agent.DqnAgent
    agent = agent_class(
        time_step_spec,
        action_spec,
        q_network=q_network,
        optimizer=tf.keras.optimizers.Adam(hparams.learning_rate, epsilon=hparams.adam_epsilon),
        epsilon_greedy=epsilon,
        td_errors_loss_fn=common.element_wise_huber_loss,
        gamma=hparams.gamma,
        target_update_tau=1.0,
        target_update_period=hparams.target_update_period,
        train_step_counter=train_step_counter,
    )
    agent.initialize()
    return agent
