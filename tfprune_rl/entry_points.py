"""What the command-line entry points share: the flags that define a training run, and flag
parsing that fails in one line.

`tfprune-train` parses the run flags from its command line; `tfprune-export` parses a run's
flags.txt with the same definitions, so both get the same defaults and the same validation.
Nothing here imports TensorFlow: a command parses and checks its flags, and answers --help,
before it imports what trains.
"""

import dataclasses
import functools
import importlib.util
import os
import sys
from typing import Callable

from absl import app, flags

from tfprune_rl.agents.registry import AGENTS, CONTINUOUS_AGENTS, DqnHyperparams
from tfprune_rl.envs.ids import CONTINUOUS_ENV_EXAMPLES, ENV_EXAMPLES, check_env_id, game_name
from tfprune_rl.networks import ENCODERS
from tfprune_rl.pruning.api import METHODS
from tfprune_rl.pruning.distribution import DISTRIBUTIONS
from tfprune_rl.pruning.schedule import PolynomialSchedule
from tfprune_rl.replay.circular import REPLAY_SCHEMES
from tfprune_rl.training.augmentation import AUGMENTATIONS
from tfprune_rl.training.config import MODES, TrainConfig
from tfprune_rl.training.continuous_config import ContinuousConfig

DEFAULTS = TrainConfig(root_dir="runs/default")


def file_errors() -> tuple[type[Exception], ...]:
    """A file that is missing, damaged or cannot be written: one line from every command that
    reads one (TensorFlow's and protobuf's errors, so imported when asked for)."""
    import tensorflow as tf
    from google.protobuf.message import DecodeError

    return ValueError, OSError, DecodeError, tf.errors.OpError


def define_run_flags(flag_values: flags.FlagValues) -> tuple[str, ...]:
    """Defines `root_dir` and the run-defining flags on `flag_values`; returns the latter's names
    (recorded in flags.txt and compared when a run directory is reused)."""
    define_string = functools.partial(flags.DEFINE_string, flag_values=flag_values)
    define_bool = functools.partial(flags.DEFINE_bool, flag_values=flag_values)
    define_integer = functools.partial(flags.DEFINE_integer, flag_values=flag_values)
    define_float = functools.partial(flags.DEFINE_float, flag_values=flag_values)
    define_list = functools.partial(flags.DEFINE_list, flag_values=flag_values)
    define_string(
        "root_dir", DEFAULTS.root_dir, "Run directory: flags.txt, tensorboard/, checkpoints/, "
        "export/, metrics.json. Re-running with the same flags resumes.")

    run_defining = (
        define_string("mode", DEFAULTS.mode, f"One of: {', '.join(MODES)}. offline trains on "
            "--dataset only; the env is stepped for evaluation episodes alone."),
        define_string("dataset", DEFAULTS.dataset, "offline: a dataset directory, recorded "
            "with --record_dataset (its manifest.json) or a DQN Replay replay_logs directory "
            "($store$_<field>_ckpt.<N>.gz); {game} stands for the env's game (Pong)."),
        define_float("dataset_fraction", DEFAULTS.dataset_fraction, "offline: keep this "
            "fraction of each chunk of the dataset (a contiguous window at a seeded offset). "
            "Paper (DQN Replay): 0.05."),
        define_integer("num_updates", DEFAULTS.num_updates, "offline: gradient updates; the "
            "interval flags then count updates. Paper (Atari): 12,500,000 (200 x 62,500)."),
        define_bool("record_dataset", DEFAULTS.record_dataset, "online: record every "
            "transition collected to DIR/dataset/ (shards and a manifest) for offline runs."),
        define_string("env", DEFAULTS.env_id, f"Environment: {ENV_EXAMPLES}. Atari gets the "
            "paper's preprocessing (sticky actions, frame skip 4, 84x84x4)."),
        define_bool("sticky_actions", DEFAULTS.sticky_actions, "Atari sticky actions (0.25). "
            "Paper: on; --nosticky_actions is the Atari 100k setting."),
        define_integer("num_envs", DEFAULTS.num_envs, "Envs collecting in parallel (more than "
            "one runs them in subprocesses); each step of all counts num_envs."),
        define_string("agent", DEFAULTS.agent, f"One of: {', '.join(AGENTS)} (paper: dqn; "
            "c51 with --n_step=3 --replay_scheme=prioritized is its Rainbow-lite; iqn and "
            "m_iqn in its appendix; offline, cql and cql_c51)."),
        define_float("cql_alpha", DEFAULTS.hparams.cql_alpha, "Weight of CQL's conservative "
            "term (agents cql, cql_c51). Paper: 0.1."),
        define_string("encoder", DEFAULTS.encoder, f"One of: {', '.join(ENCODERS)}. Paper, "
            "Atari: nature and impala."),
        define_integer("seed", DEFAULTS.seed,
            "Seeds TensorFlow, NumPy, the env and the replay buffer."),
        define_integer("width", DEFAULTS.width,
            "Multiplies every hidden layer (the paper's width scaling)."),
        define_list("hidden_units", [str(u) for u in DEFAULTS.hidden_units],
            "Hidden layer sizes of the mlp encoder at width 1."),
        define_float("sparsity", DEFAULTS.sparsity, "Final fraction of zero kernel weights, "
            "in [0, 1); 0 trains a plain dense network. Paper: 0.95."),
        *define_pruning_flags(flag_values, DEFAULTS, "Paper: gmp."),
        define_integer("num_env_steps", DEFAULTS.num_env_steps,
            "Agent steps in the environment."),
        define_integer("learning_starts", DEFAULTS.learning_starts,
            "Random-action steps before the first update (paper, Atari: 20k)."),
        define_integer("update_period", DEFAULTS.update_period,
            "Env steps per gradient update (paper, Atari: 4)."),
        define_integer("n_step", DEFAULTS.n_step, "Steps per return "
            "(paper, Atari: 1 for DQN, 3 for Rainbow-lite)."),
        define_string("replay_scheme", DEFAULTS.replay_scheme, f"One of: "
            f"{', '.join(REPLAY_SCHEMES)} (paper: uniform for DQN, prioritized for "
            "Rainbow-lite)."),
        define_bool("clip_rewards", DEFAULTS.clip_rewards, "Learn from rewards clipped to "
            "[-1, 1]; returns are reported raw. Paper: on."),
        define_float("v_max", DEFAULTS.hparams.v_max, "C51 support is [-v_max, v_max] with "
            "51 atoms. Paper: 10."),
        define_integer("batch_size", DEFAULTS.batch_size,
            "Transitions per update (paper, Atari: 32)."),
        define_integer("replay_capacity", DEFAULTS.replay_capacity,
            "Transitions kept (paper, Atari: 1M)."),
        define_float("learning_rate", DEFAULTS.hparams.learning_rate,
            "Adam learning rate (paper, Atari: 6.25e-5)."),
        define_float("adam_epsilon", DEFAULTS.hparams.adam_epsilon,
            "Adam epsilon (paper, Atari: 1.5e-4)."),
        define_float("gamma", DEFAULTS.hparams.gamma, "Discount factor. Paper: 0.99."),
        define_integer("target_update_period", DEFAULTS.hparams.target_update_period,
            "Gradient updates between target network copies (paper, Atari: 2000, Dopamine's "
            "8,000 agent steps at --update_period=4)."),
        define_integer("epsilon_decay_steps", DEFAULTS.epsilon_decay_steps, "Env steps over "
            "which epsilon falls from 1 after learning_starts (paper, Atari: 250k)."),
        define_float("epsilon_final", DEFAULTS.epsilon_final,
            "Final training epsilon (paper, Atari: 0.01)."),
        define_float("eval_epsilon", DEFAULTS.eval_epsilon, "Evaluation epsilon. Paper: 0.001."),
        define_integer("eval_episodes", DEFAULTS.eval_episodes, "Episodes per evaluation."),
        define_integer("eval_interval", DEFAULTS.eval_interval,
            "Env steps (offline: updates) between evaluations."),
        define_integer("checkpoint_interval", DEFAULTS.checkpoint_interval,
            "Env steps (offline: updates) between checkpoints."),
        define_integer("log_interval", DEFAULTS.log_interval,
            "Env steps (offline: updates) between progress lines and summaries."),
        define_integer("diagnostics_period", DEFAULTS.diagnostics_period, "Gradient updates "
            "between plasticity diagnostics (srank, dormant neurons, Q variance and norm, "
            "parameter norm) in TensorBoard's diagnostics/ and diagnostics.jsonl."),
        define_integer("diagnostics_batch_size", DEFAULTS.diagnostics_batch_size,
            "Replay observations the diagnostics and ReDo measure on."),
        define_float("weight_decay", DEFAULTS.hparams.weight_decay, "Decoupled (AdamW-style) "
            "weight decay: each update, w -= learning_rate * weight_decay * w. 0 is off; the "
            "paper's weight-decay baseline: 1e-5."),
        define_bool("l2_normalize", DEFAULTS.l2_normalize, "Divide the features the head "
            "reads by their L2 norm (Kumar et al. 2022; the paper's +L2 baseline)."),
        define_float("redo_tau", DEFAULTS.redo_tau, "ReDo's dormancy threshold on the "
            "normalized activation score. Paper: 0.1."),
        define_integer("redo_period", DEFAULTS.redo_period, "Recycle dormant neurons (ReDo, "
            "Sokar et al. 2023) every this many updates; 0 is off. Pruned weights stay zero."),
        define_integer("reset_period", DEFAULTS.reset_period, "Re-initialize the last layer "
            "every this many updates; 0 is off. Paper's reset baseline: 100000."),
        define_string("augmentation", DEFAULTS.augmentation, f"One of: "
            f"{', '.join(AUGMENTATIONS)}. random_shift pads image observations by 4 "
            "pixels and crops back at a random offset, per sampled observation and next "
            "observation (DrQ(epsilon); any agent and encoder on image observations)."),
        *define_picture_flags(flag_values, DEFAULTS),
    )
    return tuple(holder.name for holder in run_defining)


def define_pruning_flags(flag_values: flags.FlagValues, defaults, method_note: str) -> tuple:
    """The flags of the pruning method, shared by both trainers (`defaults`: their config)."""
    kw = dict(flag_values=flag_values)
    return (
        flags.DEFINE_string("pruning", defaults.pruning, f"Sparse training method: one of "
            f"{', '.join(METHODS)} (README, Pruning methods). {method_note}", **kw),
        flags.DEFINE_string("sparsity_distribution", defaults.distribution, f"One of: "
            f"{', '.join(DISTRIBUTIONS)}: how the sparsity is shared among kernels (snip and "
            "grasp rank globally instead). Default: erk for value-based runs (the paper's "
            "JaxPruner config), uniform for continuous ones.", **kw),
        flags.DEFINE_float("pruning_start", defaults.schedule.start, "gmp: fraction of "
            "gradient updates at which pruning starts. Paper: 0.2.", **kw),
        flags.DEFINE_float("pruning_end", defaults.schedule.end, "gmp: fraction of gradient "
            "updates at which the final sparsity is reached. Paper: 0.8.", **kw),
        flags.DEFINE_integer("pruning_power", defaults.schedule.power,
            "gmp: exponent of the polynomial schedule. Paper: 3.", **kw),
        flags.DEFINE_integer("pruning_frequency", defaults.schedule.frequency, "gmp, set, "
            "rigl: gradient updates between mask updates. Paper (JaxPruner config) and "
            "Graesser et al. 2022: 1000.", **kw),
        flags.DEFINE_float("drop_fraction", defaults.drop_fraction, "set, rigl: fraction of "
            "kept weights dropped and regrown at the first mask update, decaying by a cosine. "
            "Evci et al. 2020: 0.3.", **kw),
        flags.DEFINE_float("regrow_end", defaults.regrow_end, "set, rigl: fraction of "
            "gradient updates after which masks stop changing. Evci et al. 2020: 0.75.", **kw),
        flags.DEFINE_integer("saliency_batches", defaults.saliency_batches, "snip, grasp: "
            "batches the saliency is averaged over (replay or dataset batches). SNIP: 1.", **kw),
        flags.DEFINE_string("mask_from", defaults.mask_from, "lottery: a finished pruned run "
            "of the same network; its final masks are trained from its initial weights.", **kw),
    )


def define_picture_flags(flag_values: flags.FlagValues, defaults) -> tuple:
    """What a run shows beyond its scalars, shared by both trainers: mask images, histograms
    and evaluation videos. None changes what is learned."""
    kw = dict(flag_values=flag_values)
    return (
        flags.DEFINE_integer("summary_image_interval", defaults.summary_image_interval,
            "Env steps (offline: updates) between TensorBoard's histograms of each layer's "
            "kept weights and, when its masks changed, images of each pruned kernel's mask "
            "(and once more at the end), between training steps.", **kw),
        flags.DEFINE_bool("capture_video", defaults.capture_video, "Record the first episode "
            "of each evaluation to videos/<clock>_<step>.mp4 and to TensorBoard's images (a "
            "GIF). MuJoCo renders with OpenGL, in a process of its own: with no display, "
            "through OSMesa (MUJOCO_GL=osmesa unless set; apt install libosmesa6).", **kw),
    )


def picture_fields(values: flags.FlagValues) -> dict:
    """The config fields `define_picture_flags` sets."""
    return dict(summary_image_interval=values.summary_image_interval,
                capture_video=values.capture_video)


def pruning_fields(values: flags.FlagValues) -> dict:
    """The config fields `define_pruning_flags` sets."""
    return dict(
        pruning=values.pruning,
        distribution=values.sparsity_distribution,
        schedule=PolynomialSchedule(start=values.pruning_start, end=values.pruning_end,
                                    power=values.pruning_power,
                                    frequency=values.pruning_frequency),
        drop_fraction=values.drop_fraction,
        regrow_end=values.regrow_end,
        saliency_batches=values.saliency_batches,
        mask_from=values.mask_from,
    )


def config_from_flags(values: flags.FlagValues) -> TrainConfig:
    try:
        hidden_units = tuple(int(units) for units in values.hidden_units)
    except ValueError:
        raise ValueError(f"hidden_units={values.hidden_units} must be integers") from None
    check_env_id(values.env)
    return TrainConfig(
        root_dir=values.root_dir,
        mode=values.mode,
        dataset=values.dataset,
        dataset_fraction=values.dataset_fraction,
        num_updates=values.num_updates,
        record_dataset=values.record_dataset,
        env_id=values.env,
        sticky_actions=values.sticky_actions,
        num_envs=values.num_envs,
        agent=values.agent,
        seed=values.seed,
        encoder=values.encoder,
        hidden_units=hidden_units,
        width=values.width,
        sparsity=values.sparsity,
        **pruning_fields(values),
        hparams=DqnHyperparams(
            learning_rate=values.learning_rate,
            adam_epsilon=values.adam_epsilon,
            gamma=values.gamma,
            target_update_period=values.target_update_period,
            v_max=values.v_max,
            weight_decay=values.weight_decay,
            cql_alpha=values.cql_alpha,
        ),
        n_step=values.n_step,
        replay_scheme=values.replay_scheme,
        clip_rewards=values.clip_rewards,
        num_env_steps=values.num_env_steps,
        learning_starts=values.learning_starts,
        update_period=values.update_period,
        batch_size=values.batch_size,
        replay_capacity=values.replay_capacity,
        epsilon_decay_steps=values.epsilon_decay_steps,
        epsilon_final=values.epsilon_final,
        eval_epsilon=values.eval_epsilon,
        eval_episodes=values.eval_episodes,
        eval_interval=values.eval_interval,
        checkpoint_interval=values.checkpoint_interval,
        log_interval=values.log_interval,
        diagnostics_period=values.diagnostics_period,
        diagnostics_batch_size=values.diagnostics_batch_size,
        l2_normalize=values.l2_normalize,
        redo_tau=values.redo_tau,
        redo_period=values.redo_period,
        reset_period=values.reset_period,
        augmentation=values.augmentation,
        **picture_fields(values),
    )


def run_flag_values(values: flags.FlagValues, names: tuple[str, ...]) -> dict[str, str]:
    """The `names` flags' values as `--name=value` takes them (booleans too, which absl would
    write as --noname)."""
    def value(flag):
        return str(flag.value).lower() if isinstance(flag.value, bool) else flag.serialize().split("=", 1)[1]
    return {name: value(values[name]) for name in names}


def load_run_config(run_dir: str) -> TrainConfig:
    """The config of the run in `run_dir`, read from its flags.txt (with `run_dir` as its root,
    so a run directory that was moved still reads)."""
    path = os.path.join(run_dir, "flags.txt")
    if not os.path.isfile(path):
        raise ValueError(f"run_dir {run_dir} holds no run (no flags.txt); "
                         "pass a directory that tfprune-train wrote")
    values = flags.FlagValues()
    define_run_flags(values)
    try:
        values(["flags.txt", f"--flagfile={path}", f"--root_dir={run_dir}"])
    except flags.Error as error:
        raise ValueError(f"{path}: {error}") from None
    return config_from_flags(values)


def fail(program: str, message: str) -> None:
    """Exits 1 with one line (TensorFlow's errors add lines of graph context: dropped)."""
    sys.exit(f"{program}: error: {(message.strip() or 'failed').splitlines()[0]}")


def run_app(program: str, main, flag_names) -> None:
    """Runs `main` under absl with `flag_names` listed by --help (absl lists only the flags of
    the script that was run) and a bad flag value reported in one line. TF-Agents and gym are
    installed apart from this package (requirements-no-deps.txt): one line if they are not."""
    missing = [name for name in ("tf_agents", "gym") if importlib.util.find_spec(name) is None]
    if missing:
        fail(program, f"{' and '.join(missing)} not installed: TF-Agents 0.19.0 and gym 0.23.0 "
                      "are installed without their stale pins, with pip install --no-deps "
                      "-r requirements-no-deps.txt (README, Two commands)")
    for name in flag_names:
        flags.FLAGS.register_key_flag_for_module(sys.argv[0], flags.FLAGS[name])

    def parse(argv):
        try:
            return flags.FLAGS(argv)
        except flags.Error as error:
            fail(program, str(error))

    app.run(main, flags_parser=parse)


CONTINUOUS_DEFAULTS = ContinuousConfig(root_dir="runs/continuous", dataset="")


def define_continuous_flags(flag_values: flags.FlagValues) -> tuple[str, ...]:
    """`root_dir` and the run-defining flags of tfprune-train-continuous (see define_run_flags)."""
    d = CONTINUOUS_DEFAULTS
    kw = dict(flag_values=flag_values)
    flags.DEFINE_string("root_dir", d.root_dir, "Run directory: flags.txt, tensorboard/, "
                        "checkpoints/, export/, metrics.json. Re-running with the same flags "
                        "resumes.", **kw)
    return tuple(flag.name for flag in (
        flags.DEFINE_enum("mode", d.mode, MODES, "offline trains on --dataset (the single-shot "
                          "paper); online trains sac or td3 by collecting in --env (the "
                          "value-based paper's SAC runs).", **kw),
        flags.DEFINE_string("dataset", d.dataset, "offline: a D4RL-layout dataset: .npz (from "
                            "tfprune-datasets; its manifest.json gives the reference returns), "
                            "D4RL .hdf5, or a Minari dataset directory. {game} stands for the "
                            "env's name (HalfCheetah).", **kw),
        flags.DEFINE_string("env", d.env_id, f"Evaluation env: {CONTINUOUS_ENV_EXAMPLES}.", **kw),
        flags.DEFINE_enum("agent", d.agent, CONTINUOUS_AGENTS, "Offline: bc (MSE to the data's "
                          "actions), td3_bc, sac, td3, or cql_sac (CQL(H), alpha 5 as CQL on "
                          "MuJoCo). Online: sac (the paper's) or td3.", **kw),
        flags.DEFINE_float("sparsity", d.sparsity, "Fraction of each network's kernel weights "
                           "pruned; 0 is dense. Single-shot paper: 0.95.", **kw),
        *define_pruning_flags(flag_values, d, "Single-shot paper: snip; gmp is the "
                              "value-based paper's schedule (its online SAC runs)."),
        flags.DEFINE_integer("num_updates", d.num_updates, "offline: gradient updates. "
                             "TD3+BC: 1,000,000.", **kw),
        flags.DEFINE_integer("num_env_steps", d.num_env_steps, "online: env steps; the "
                             "interval flags then count env steps. SAC: 1,000,000.", **kw),
        flags.DEFINE_integer("learning_starts", d.learning_starts, "online: uniformly random "
                             "steps before the first update (Dopamine's SAC: 10,000).", **kw),
        flags.DEFINE_integer("update_period", d.update_period, "online: env steps per "
                             "gradient update. SAC: 1.", **kw),
        flags.DEFINE_integer("replay_capacity", d.replay_capacity, "online: transitions "
                             "kept. SAC: 1,000,000.", **kw),
        flags.DEFINE_integer("batch_size", d.batch_size, "TD3+BC: 256.", **kw),
        flags.DEFINE_list("hidden_units", [str(u) for u in d.hidden_units], "Actor and critic "
                          "hidden layer sizes. TD3+BC: 256,256.", **kw),
        flags.DEFINE_integer("width", d.width, "Multiplies every hidden size.", **kw),
        flags.DEFINE_integer("eval_interval", d.eval_interval, "Updates (online: env steps) "
                             "between evaluations. TD3+BC: 5,000.", **kw),
        flags.DEFINE_integer("eval_episodes", d.eval_episodes, "TD3+BC: 10.", **kw),
        flags.DEFINE_integer("log_interval", d.log_interval, "Updates (online: env steps) "
                             "between progress lines.", **kw),
        flags.DEFINE_integer("checkpoint_interval", d.checkpoint_interval,
                             "Updates (online: env steps) between checkpoints.", **kw),
        flags.DEFINE_list("reference_returns", [], "random,expert returns for normalized "
                          "scores, overriding the dataset's manifest (D4RL v2: halfcheetah "
                          "-280.18,12135.0; hopper -20.27,3234.3; walker2d 1.63,4592.3).", **kw),
        flags.DEFINE_integer("seed", d.seed, "Seed of the networks, batches and evaluation.", **kw),
        *define_picture_flags(flag_values, d),
    ))


def continuous_config_from_flags(values: flags.FlagValues) -> ContinuousConfig:
    try:
        hidden_units = tuple(int(u) for u in values.hidden_units)
        references = tuple(float(r) for r in values.reference_returns) or None
    except ValueError:
        raise ValueError(f"hidden_units={','.join(values.hidden_units)} and reference_returns="
                         f"{','.join(values.reference_returns)} must be numbers") from None
    if references is not None and len(references) != 2:
        raise ValueError(f"reference_returns={','.join(values.reference_returns)} must be two "
                         "numbers: random,expert")
    check_env_id(values.env, CONTINUOUS_ENV_EXAMPLES)
    if values.mode == "offline" and not values.dataset:
        raise ValueError("--mode=offline needs --dataset: a D4RL-layout .npz or .hdf5 file or a "
                         "Minari directory (make one with tfprune-datasets)")
    return ContinuousConfig(
        root_dir=values.root_dir, dataset=values.dataset.replace("{game}", game_name(values.env)),
        mode=values.mode, env_id=values.env, agent=values.agent, sparsity=values.sparsity,
        **pruning_fields(values), num_updates=values.num_updates,
        num_env_steps=values.num_env_steps, learning_starts=values.learning_starts,
        update_period=values.update_period, replay_capacity=values.replay_capacity,
        batch_size=values.batch_size, hidden_units=hidden_units, width=values.width,
        eval_interval=values.eval_interval, eval_episodes=values.eval_episodes,
        log_interval=values.log_interval, checkpoint_interval=values.checkpoint_interval,
        reference_returns=references, seed=values.seed, **picture_fields(values))


@dataclasses.dataclass(frozen=True)
class Trainer:
    """A trainer entry point as the sweep tool runs and checks it (`make_env`: a
    "module:function" reference that builds an env from its id)."""
    module: str
    define_flags: Callable[[flags.FlagValues], tuple[str, ...]]
    config_from_flags: Callable[[flags.FlagValues], object]
    make_env: str


TRAINERS = {
    "value_based": Trainer("tfprune_rl.train", define_run_flags, config_from_flags,
                           "tfprune_rl.envs.factory:make_gym_env"),
    "continuous": Trainer("tfprune_rl.train_continuous", define_continuous_flags,
                          continuous_config_from_flags,
                          "tfprune_rl.envs.continuous:make_continuous_env"),
}
