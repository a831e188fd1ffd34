"""Train a (pruned) value-based agent: python -m tfprune_rl.train --root_dir=DIR [flags].

Defaults are the built-in CartPole-v1 run: double DQN with 3-step returns, width 4, sparsity
0.95. Pruning defaults are the paper's (Obando-Ceron et al., 2024); agent hyperparameters are a
CartPole setting, since the paper's are for Atari (noted in each flag's help; experiments/ has
the paper's Atari and MinAtar presets).
"""

import os
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
warnings.filterwarnings("ignore", category=SyntaxWarning)  # from TF-Agents' autograph'd code

from absl import app, flags  # noqa: E402

from tfprune_rl.agents import AGENTS, DqnHyperparams  # noqa: E402
from tfprune_rl.envs import ENV_EXAMPLES, make_gym_env  # noqa: E402
from tfprune_rl.networks import ENCODERS  # noqa: E402
from tfprune_rl.pruning import DISTRIBUTIONS, GradualSchedule  # noqa: E402
from tfprune_rl.replay import REPLAY_SCHEMES  # noqa: E402
from tfprune_rl.training import TrainConfig, train  # noqa: E402
from tfprune_rl.training.run_dir import claim_run_dir  # noqa: E402

FLAGS = flags.FLAGS
DEFAULTS = TrainConfig(root_dir="runs/default")

_ROOT_DIR = flags.DEFINE_string(
    "root_dir", DEFAULTS.root_dir, "Run directory: flags.txt, tensorboard/, checkpoints/, "
    "export/saved_model/, metrics.json. Re-running with the same flags resumes.")

# Flags that define a run: recorded in flags.txt and compared when a run directory is reused.
_RUN_FLAGS = (
    flags.DEFINE_string("env", DEFAULTS.env_id, f"Environment: {ENV_EXAMPLES}. Atari gets the "
                        "paper's preprocessing (sticky actions, frame skip 4, 84x84x4)."),
    flags.DEFINE_bool("sticky_actions", DEFAULTS.sticky_actions, "Atari sticky actions (0.25). "
                      "Paper: on; --nosticky_actions is the Atari 100k setting."),
    flags.DEFINE_integer("num_envs", DEFAULTS.num_envs, "Envs collecting in parallel (more than "
                         "one runs them in subprocesses); each step of all counts num_envs."),
    flags.DEFINE_string("agent", DEFAULTS.agent, f"One of: {', '.join(AGENTS)} (paper: dqn; "
                        "c51 with --n_step=3 --replay_scheme=prioritized is its Rainbow-lite)."),
    flags.DEFINE_string("encoder", DEFAULTS.encoder, f"One of: {', '.join(ENCODERS)}. Paper, "
                        "Atari: nature and impala."),
    flags.DEFINE_integer("seed", DEFAULTS.seed,
                         "Seeds TensorFlow, NumPy, the env and the replay buffer."),
    flags.DEFINE_integer("width", DEFAULTS.width,
                         "Multiplies every hidden layer (the paper's width scaling)."),
    flags.DEFINE_list("hidden_units", [str(u) for u in DEFAULTS.hidden_units],
                      "Hidden layer sizes of the mlp encoder at width 1."),
    flags.DEFINE_float("sparsity", DEFAULTS.sparsity, "Final fraction of zero kernel weights, "
                       "in [0, 1); 0 trains a plain dense network. Paper: 0.95."),
    flags.DEFINE_string("sparsity_distribution", DEFAULTS.distribution,
                        f"One of: {', '.join(DISTRIBUTIONS)}. Paper (JaxPruner config): erk."),
    flags.DEFINE_float("pruning_start", DEFAULTS.schedule.start,
                       "Fraction of gradient updates at which pruning starts. Paper: 0.2."),
    flags.DEFINE_float("pruning_end", DEFAULTS.schedule.end, "Fraction of gradient updates at "
                       "which the final sparsity is reached. Paper: 0.8."),
    flags.DEFINE_integer("pruning_power", DEFAULTS.schedule.power,
                         "Exponent of the polynomial schedule. Paper: 3."),
    flags.DEFINE_integer("pruning_frequency", DEFAULTS.schedule.frequency,
                         "Gradient updates between mask updates. Paper (JaxPruner config): 1000."),
    flags.DEFINE_integer("num_env_steps", DEFAULTS.num_env_steps,
                         "Agent steps in the environment."),
    flags.DEFINE_integer("learning_starts", DEFAULTS.learning_starts,
                         "Random-action steps before the first update (paper, Atari: 20k)."),
    flags.DEFINE_integer("update_period", DEFAULTS.update_period,
                         "Env steps per gradient update (paper, Atari: 4)."),
    flags.DEFINE_integer("n_step", DEFAULTS.n_step, "Steps per return "
                         "(paper, Atari: 1 for DQN, 3 for Rainbow-lite)."),
    flags.DEFINE_string("replay_scheme", DEFAULTS.replay_scheme, f"One of: "
                        f"{', '.join(REPLAY_SCHEMES)} (paper: uniform for DQN, prioritized for "
                        "Rainbow-lite)."),
    flags.DEFINE_bool("clip_rewards", DEFAULTS.clip_rewards, "Learn from rewards clipped to "
                      "[-1, 1]; returns are reported raw. Paper: on."),
    flags.DEFINE_float("v_max", DEFAULTS.hparams.v_max, "C51 support is [-v_max, v_max] with "
                       "51 atoms. Paper: 10."),
    flags.DEFINE_integer("batch_size", DEFAULTS.batch_size,
                         "Transitions per update (paper, Atari: 32)."),
    flags.DEFINE_integer("replay_capacity", DEFAULTS.replay_capacity,
                         "Transitions kept (paper, Atari: 1M)."),
    flags.DEFINE_float("learning_rate", DEFAULTS.hparams.learning_rate,
                       "Adam learning rate (paper, Atari: 6.25e-5)."),
    flags.DEFINE_float("adam_epsilon", DEFAULTS.hparams.adam_epsilon,
                       "Adam epsilon (paper, Atari: 1.5e-4)."),
    flags.DEFINE_float("gamma", DEFAULTS.hparams.gamma, "Discount factor. Paper: 0.99."),
    flags.DEFINE_integer("target_update_period", DEFAULTS.hparams.target_update_period,
                         "Gradient updates between target network copies (paper, Atari: 8000)."),
    flags.DEFINE_integer("epsilon_decay_steps", DEFAULTS.epsilon_decay_steps, "Env steps over "
                         "which epsilon falls from 1 after learning_starts (paper, Atari: 250k)."),
    flags.DEFINE_float("epsilon_final", DEFAULTS.epsilon_final,
                       "Final training epsilon (paper, Atari: 0.01)."),
    flags.DEFINE_float("eval_epsilon", DEFAULTS.eval_epsilon, "Evaluation epsilon. Paper: 0.001."),
    flags.DEFINE_integer("eval_episodes", DEFAULTS.eval_episodes, "Episodes per evaluation."),
    flags.DEFINE_integer("eval_interval", DEFAULTS.eval_interval,
                         "Env steps between evaluations."),
    flags.DEFINE_integer("checkpoint_interval", DEFAULTS.checkpoint_interval,
                         "Env steps between checkpoints."),
    flags.DEFINE_integer("log_interval", DEFAULTS.log_interval,
                         "Env steps between progress lines and summaries."),
)


def config_from_flags() -> TrainConfig:
    try:
        hidden_units = tuple(int(units) for units in FLAGS.hidden_units)
    except ValueError:
        raise ValueError(f"hidden_units={FLAGS.hidden_units} must be integers") from None
    return TrainConfig(
        root_dir=_ROOT_DIR.value,
        env_id=FLAGS.env,
        sticky_actions=FLAGS.sticky_actions,
        num_envs=FLAGS.num_envs,
        agent=FLAGS.agent,
        seed=FLAGS.seed,
        encoder=FLAGS.encoder,
        hidden_units=hidden_units,
        width=FLAGS.width,
        sparsity=FLAGS.sparsity,
        distribution=FLAGS.sparsity_distribution,
        schedule=GradualSchedule(
            start=FLAGS.pruning_start,
            end=FLAGS.pruning_end,
            power=FLAGS.pruning_power,
            frequency=FLAGS.pruning_frequency,
        ),
        hparams=DqnHyperparams(
            learning_rate=FLAGS.learning_rate,
            adam_epsilon=FLAGS.adam_epsilon,
            gamma=FLAGS.gamma,
            target_update_period=FLAGS.target_update_period,
            v_max=FLAGS.v_max,
        ),
        n_step=FLAGS.n_step,
        replay_scheme=FLAGS.replay_scheme,
        clip_rewards=FLAGS.clip_rewards,
        num_env_steps=FLAGS.num_env_steps,
        learning_starts=FLAGS.learning_starts,
        update_period=FLAGS.update_period,
        batch_size=FLAGS.batch_size,
        replay_capacity=FLAGS.replay_capacity,
        epsilon_decay_steps=FLAGS.epsilon_decay_steps,
        epsilon_final=FLAGS.epsilon_final,
        eval_epsilon=FLAGS.eval_epsilon,
        eval_episodes=FLAGS.eval_episodes,
        eval_interval=FLAGS.eval_interval,
        checkpoint_interval=FLAGS.checkpoint_interval,
        log_interval=FLAGS.log_interval,
    )


def _run_flags() -> dict[str, str]:
    """Values as `--name=value` takes them (booleans too, which absl writes as --noname)."""
    def value(flag):
        return str(flag.value).lower() if isinstance(flag.value, bool) else flag.serialize().split("=", 1)[1]
    return {h.name: value(FLAGS[h.name]) for h in _RUN_FLAGS}


def _fail(message: str) -> None:
    sys.exit(f"tfprune-train: error: {message}")


def _parse_flags(argv):
    try:
        return FLAGS(argv)
    except flags.Error as error:
        _fail(str(error))


def main(argv):
    if len(argv) > 1:
        _fail(f"unexpected arguments {argv[1:]}; all options are --flags")
    try:
        config = config_from_flags()
        make_gym_env(config.env_id, config.sticky_actions).close()
        claim_run_dir(config.root_dir, _run_flags())
    except (ValueError, OSError) as error:
        _fail(str(error))
    train(config, log=lambda line: print(line, flush=True))


def run():
    app.run(main, flags_parser=_parse_flags)


if __name__ == "__main__":
    run()
