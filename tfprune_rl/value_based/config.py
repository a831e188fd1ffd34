"""Every setting of a value-based run, declared once (`tfprune_rl.settings`) and validated
before anything is written."""

import dataclasses

from tfprune_rl.agents.registry import AGENTS, DqnHyperparams
from tfprune_rl.envs.ids import ENV_EXAMPLES, check_env_id
from tfprune_rl.lifecycle.run_config import MODES, RunConfig
from tfprune_rl.networks import ENCODERS
from tfprune_rl.pruning.api import check_pruning
from tfprune_rl.pruning.config import PruningConfig
from tfprune_rl.replay.circular import REPLAY_SCHEMES
from tfprune_rl.settings import (
    at_least, between, check_settings, one_of, positive_sizes, setting,
)
from tfprune_rl.value_based.augmentation import AUGMENTATIONS


def _fraction_of_data(name: str, value: float) -> None:
    if not 0.0 < value <= 1.0:
        raise ValueError(f"{name}={value} must be in (0, 1]")


def _known_env(name: str, value: str) -> None:
    check_env_id(value)


@dataclasses.dataclass(frozen=True)
class TrainConfig(RunConfig):
    """Every setting of a value-based run (`settings`: each field is its flag). Online runs
    count `num_env_steps` and their intervals in env steps; offline runs (on the fixed
    `dataset`) count `num_updates` and their intervals in gradient updates."""
    root_dir: str = setting("runs/default", "Run directory: flags.txt, tensorboard/, "
                            "checkpoints/, export/, metrics.json. Re-running with the same "
                            "flags resumes.", recorded=False)
    mode: str = setting("online", f"One of: {', '.join(MODES)}. offline trains on --dataset "
                        "only; the env is stepped for evaluation episodes alone.", one_of(MODES))
    dataset: str = setting("", "offline: a dataset directory, recorded with --record_dataset "
                           "(its manifest.json) or a DQN Replay replay_logs directory "
                           "($store$_<field>_ckpt.<N>.gz); {game} stands for the env's game "
                           "(Pong).")
    dataset_fraction: float = setting(
        1.0, "offline: keep this fraction of each chunk of the dataset (a contiguous window at "
        "a seeded offset). Paper (DQN Replay): 0.05.", _fraction_of_data)
    num_updates: int = setting(50_000, "offline: gradient updates; the interval flags then "
                               "count updates. Paper (Atari): 12,500,000 (200 x 62,500).",
                               at_least(1))
    record_dataset: bool = setting(False, "online: record every transition collected to "
                                   "DIR/dataset/ (shards and a manifest) for offline runs.")
    env_id: str = setting("CartPole-v1", f"Environment: {ENV_EXAMPLES}. Atari gets the "
                          "paper's preprocessing (sticky actions, frame skip 4, 84x84x4).",
                          _known_env, flag="env")
    sticky_actions: bool = setting(True, "Atari sticky actions (0.25). Paper: on; "
                                   "--nosticky_actions is the Atari 100k setting.")
    num_envs: int = setting(1, "Envs stepped together, one action batch per step (Atari: "
                            "ale-py's threaded vector env; others in process); each step of all "
                            "counts num_envs.", at_least(1))
    agent: str = setting("double_dqn", f"One of: {', '.join(AGENTS)} (paper: dqn; c51 with "
                         "--n_step=3 --replay_scheme=prioritized is its Rainbow-lite; iqn and "
                         "m_iqn in its appendix; offline, cql and cql_c51).", one_of(AGENTS))
    hparams: DqnHyperparams = DqnHyperparams()
    encoder: str = setting("mlp", f"One of: {', '.join(ENCODERS)}. Paper, Atari: nature and "
                           "impala.", one_of(ENCODERS))
    seed: int = setting(0, "Seeds TensorFlow, NumPy, the env and the replay buffer.")
    width: int = setting(4, "Multiplies every hidden layer (the paper's width scaling).",
                         at_least(1))
    hidden_units: tuple[int, ...] = setting((64, 64), "Hidden layer sizes of the mlp encoder "
                                            "at width 1.", positive_sizes)
    pruning: PruningConfig = PruningConfig()
    num_env_steps: int = setting(50_000, "Agent steps in the environment.")
    learning_starts: int = setting(1_000, "Random-action steps before the first update "
                                   "(paper, Atari: 20k).")
    update_period: int = setting(1, "Env steps per gradient update (paper, Atari: 4).",
                                 at_least(1))
    n_step: int = setting(3, "Steps per return (paper, Atari: 1 for DQN, 3 for Rainbow-lite).",
                          at_least(1))
    replay_scheme: str = setting("uniform", f"One of: {', '.join(REPLAY_SCHEMES)} (paper: "
                                 "uniform for DQN, prioritized for Rainbow-lite).",
                                 one_of(REPLAY_SCHEMES))
    clip_rewards: bool = setting(True, "Learn from rewards clipped to [-1, 1]; returns are "
                                 "reported raw. Paper: on.")
    batch_size: int = setting(64, "Transitions per update (paper, Atari: 32).", at_least(1))
    replay_capacity: int = setting(50_000, "Transitions kept (paper, Atari: 1M).", at_least(1))
    epsilon_decay_steps: int = setting(8_000, "Env steps over which epsilon falls from 1 after "
                                       "learning_starts (paper, Atari: 250k).")
    epsilon_final: float = setting(0.04, "Final training epsilon (paper, Atari: 0.01).",
                                   between(0.0, 1.0))
    eval_epsilon: float = setting(0.001, "Evaluation epsilon. Paper: 0.001.", between(0.0, 1.0))
    eval_episodes: int = setting(10, "Episodes per evaluation.", at_least(1))
    eval_interval: int = setting(10_000, "Env steps (offline: updates) between evaluations.",
                                 at_least(1))
    checkpoint_interval: int = setting(5_000, "Env steps (offline: updates) between "
                                       "checkpoints.", at_least(1))
    log_interval: int = setting(2_000, "Env steps (offline: updates) between progress lines "
                                "and summaries.", at_least(1))
    diagnostics_period: int = setting(
        1_000, "Gradient updates between plasticity diagnostics (srank, dormant neurons, Q "
        "variance and norm, parameter norm) in TensorBoard's diagnostics/ and "
        "diagnostics.jsonl.", at_least(1))
    diagnostics_batch_size: int = setting(256, "Replay observations the diagnostics and ReDo "
                                          "measure on.", at_least(1))
    l2_normalize: bool = setting(False, "Divide the features the head reads by their L2 norm "
                                 "(Kumar et al. 2022; the paper's +L2 baseline).")
    redo_tau: float = setting(0.1, "ReDo's dormancy threshold on the normalized activation "
                              "score. Paper: 0.1.", at_least(0))
    redo_period: int = setting(0, "Recycle dormant neurons (ReDo, Sokar et al. 2023) every "
                               "this many updates; 0 is off. Pruned weights stay zero.",
                               at_least(0, off=True))
    reset_period: int = setting(0, "Re-initialize the last layer every this many updates; 0 "
                                "is off. Paper's reset baseline: 100000.", at_least(0, off=True))
    augmentation: str = setting("none", f"One of: {', '.join(AUGMENTATIONS)}. random_shift "
                                "pads image observations by 4 pixels and crops back at a "
                                "random offset, per sampled observation and next observation "
                                "(DrQ(epsilon); any agent and encoder on image observations).",
                                one_of(AUGMENTATIONS))

    def __post_init__(self):
        check_settings(self)
        self._fill_pruning()
        if self.offline:
            if not self.dataset:
                raise ValueError("--mode=offline needs --dataset=PATH (a recorded dataset or "
                                 "a DQN Replay directory)")
            for name, value, allowed in (("record_dataset", self.record_dataset, False),
                                         ("replay_scheme", self.replay_scheme, "uniform")):
                if value != allowed:
                    raise ValueError(f"{name}={value} is for online runs; offline runs need "
                                     f"{name}={allowed}")
        elif self.dataset:
            raise ValueError(f"dataset={self.dataset} is read by --mode=offline only; this "
                             "run is online")
        if not self.offline and self.replay_capacity < self.batch_size:
            raise ValueError(f"replay_capacity={self.replay_capacity} cannot hold one batch of "
                             f"batch_size={self.batch_size}; it must be at least that")
        if self.num_env_steps % self.num_envs:
            raise ValueError(
                f"num_env_steps={self.num_env_steps} must be a multiple of num_envs={self.num_envs}"
            )
        if not self.offline and self.total_updates < 1:
            raise ValueError(
                f"num_env_steps={self.num_env_steps} leaves no gradient update after "
                f"learning_starts={self.learning_starts}"
            )
        check_pruning(self.pruning)

