"""Every setting of a continuous-control run: agent, dataset or env collection, pruning,
budget, declared once (`tfprune_rl.settings`); and what `tfprune-datasets` makes."""

import dataclasses

from tfprune_rl.agents.registry import CONTINUOUS_AGENTS, ONLINE_AGENTS
from tfprune_rl.envs.ids import CONTINUOUS_ENV_EXAMPLES, check_env_id
from tfprune_rl.lifecycle.run_config import MODES, RunConfig
from tfprune_rl.pruning.api import check_pruning
from tfprune_rl.pruning.config import PruningConfig
from tfprune_rl.settings import at_least, check_settings, one_of, positive_sizes, setting


def _known_env(name: str, value: str) -> None:
    check_env_id(value, CONTINUOUS_ENV_EXAMPLES)


def _references(name: str, value: tuple[float, float] | None) -> None:
    if value is not None and (len(value) != 2 or value[0] == value[1]):
        raise ValueError(f"{name}={','.join(map(str, value))} must be two different returns: "
                         "random,expert")


@dataclasses.dataclass(frozen=True)
class ContinuousConfig(RunConfig):
    """Defaults: TD3+BC's (Fujimoto & Gu 2021: 1M updates, batch 256, 256-256 MLPs, evaluation
    every 5,000 updates over 10 episodes) and the single-shot paper's 95% SNIP.

    `pruning` is any registered method (`pruning.METHODS`), each network pruned on its own:
    single-shot `snip`/`grasp` score on `saliency_batches` batches of the dataset, `gmp` follows
    the value-based runs' schedule. Sparsity 0 is the dense baseline.

    `mode="online"` trains SAC or TD3 by collecting in the env: `num_env_steps` steps, random
    actions for the first `learning_starts`, then an update every `update_period` steps from a
    replay of `replay_capacity`; intervals count env steps. Defaults: SAC's (Haarnoja et al.
    2018: 1M replay, 256-256, batch 256, one update per step) with Dopamine's 10k random steps.
    """

    root_dir: str = setting("runs/continuous", "Run directory: flags.txt, tensorboard/, "
                            "checkpoints/, export/, metrics.json. Re-running with the same "
                            "flags resumes.", recorded=False)
    mode: str = setting("offline", "offline trains on --dataset (the single-shot paper); online "
                        "trains sac or td3 by collecting in --env (the value-based paper's SAC "
                        "runs).", one_of(MODES))
    dataset: str = setting("", "offline: a D4RL-layout dataset: .npz (from tfprune-datasets; its "
                           "manifest.json gives the reference returns), D4RL .hdf5, or a Minari "
                           "dataset directory. {game} stands for the env's name (HalfCheetah).")
    env_id: str = setting("HalfCheetah-v5", f"Evaluation env: {CONTINUOUS_ENV_EXAMPLES}.",
                          _known_env, flag="env")
    agent: str = setting("td3_bc", "Offline: bc (MSE to the data's actions), td3_bc, sac, td3, "
                         "or cql_sac (CQL(H), alpha 5 as CQL on MuJoCo). Online: sac (the "
                         "paper's) or td3.", one_of(CONTINUOUS_AGENTS))
    pruning: PruningConfig = PruningConfig(distribution="uniform", method="snip")
    num_updates: int = setting(1_000_000, "offline: gradient updates. TD3+BC: 1,000,000.",
                               at_least(1))
    num_env_steps: int = setting(1_000_000, "online: env steps; the interval flags then count "
                                 "env steps. SAC: 1,000,000.", at_least(1))
    learning_starts: int = setting(10_000, "online: uniformly random steps before the first "
                                   "update (Dopamine's SAC: 10,000).")
    update_period: int = setting(1, "online: env steps per gradient update. SAC: 1.",
                                 at_least(1))
    replay_capacity: int = setting(1_000_000, "online: transitions kept. SAC: 1,000,000.")
    batch_size: int = setting(256, "TD3+BC: 256.", at_least(1))
    hidden_units: tuple[int, ...] = setting((256, 256), "Actor and critic hidden layer sizes. "
                                            "TD3+BC: 256,256.", positive_sizes)
    width: int = setting(1, "Multiplies every hidden size.", at_least(1))
    eval_interval: int = setting(5_000, "Updates (online: env steps) between evaluations. "
                                 "TD3+BC: 5,000.", at_least(1))
    eval_episodes: int = setting(10, "TD3+BC: 10.", at_least(1))
    log_interval: int = setting(1_000, "Updates (online: env steps) between progress lines.",
                                at_least(1))
    checkpoint_interval: int = setting(50_000, "Updates (online: env steps) between "
                                       "checkpoints.", at_least(1))
    reference_returns: tuple[float, float] | None = setting(
        None, "random,expert returns for normalized scores, overriding the dataset's manifest "
        "(D4RL v2: halfcheetah -280.18,12135.0; hopper -20.27,3234.3; walker2d "
        "1.63,4592.3).", _references)
    seed: int = setting(0, "Seed of the networks, batches and evaluation.")

    def __post_init__(self):
        check_settings(self)
        self._fill_pruning()
        if self.online and self.agent not in ONLINE_AGENTS:
            raise ValueError(f"agent {self.agent} learns from a dataset; --mode=online trains "
                             f"{' or '.join(ONLINE_AGENTS)}")
        if self.online and self.dataset:
            raise ValueError(f"dataset={self.dataset} is read by --mode=offline only; this run "
                             "is online")
        if self.offline and not self.dataset:
            raise ValueError("--mode=offline needs --dataset: a D4RL-layout .npz or .hdf5 file "
                             "or a Minari directory (make one with tfprune-datasets)")
        if self.online and self.replay_capacity < self.batch_size:
            raise ValueError(f"replay_capacity={self.replay_capacity} cannot hold one batch of "
                             f"batch_size={self.batch_size}; it must be at least that")
        if self.online and self.total_updates < 1:
            raise ValueError(f"num_env_steps={self.num_env_steps} leaves no gradient update after "
                             f"learning_starts={self.learning_starts}")
        check_pruning(self.pruning)


@dataclasses.dataclass(frozen=True)
class GenerationConfig:
    """What `tfprune-datasets` makes: SAC trained online, then D4RL's datasets from it."""
    env_id: str
    output_dir: str
    train_steps: int = 1_000_000
    dataset_size: int = 1_000_000
    random_steps: int = 10_000
    batch_size: int = 256
    hidden_units: tuple[int, ...] = (256, 256)
    log_interval: int = 5_000
    seed: int = 0

    def __post_init__(self):
        if self.train_steps < 2 or self.train_steps <= self.random_steps:
            raise ValueError(f"train_steps={self.train_steps} must exceed random_steps="
                             f"{self.random_steps} (SAC starts learning after them)")
        if self.dataset_size < 1 or self.random_steps < self.batch_size:
            raise ValueError(f"dataset_size={self.dataset_size} must be >= 1 and random_steps="
                             f"{self.random_steps} >= batch_size={self.batch_size}")
