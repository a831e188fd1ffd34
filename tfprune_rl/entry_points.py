"""What the command-line entry points share: the flags that define a training run (made from
its config's declaration, `tfprune_rl.settings`), and flag parsing that fails in one line.

`tfprune-train` parses the run flags from its command line; `tfprune-export` parses a run's
flags.txt with the same definitions, so both get the same defaults and the same validation.
Nothing here imports TensorFlow: a command parses and checks its flags, and answers --help,
before it imports what trains.
"""

import dataclasses
import importlib.util
import os
import sys

from absl import app, flags

from tfprune_rl import settings
from tfprune_rl.continuous.config import ContinuousConfig
from tfprune_rl.value_based.config import TrainConfig


def file_errors() -> tuple[type[Exception], ...]:
    """A file that is missing, damaged or cannot be written: one line from every command that
    reads one (TensorFlow's and protobuf's errors, so imported when asked for)."""
    import tensorflow as tf
    from google.protobuf.message import DecodeError

    return ValueError, OSError, DecodeError, tf.errors.OpError


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
    trainer = TRAINERS["value_based"]
    trainer.define_flags(values)
    try:
        values(["flags.txt", f"--flagfile={path}", f"--root_dir={run_dir}"])
    except flags.Error as error:
        raise ValueError(f"{path}: {error}") from None
    return trainer.config_from_flags(values)


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


@dataclasses.dataclass(frozen=True)
class Trainer:
    """A trainer entry point as the sweep tool runs and checks it: its config class declares
    its flags (`make_env`: a "module:function" reference that builds an env from its id)."""
    module: str
    config_class: type
    make_env: str

    def define_flags(self, flag_values: flags.FlagValues) -> tuple[str, ...]:
        return settings.define_flags(self.config_class, flag_values)

    def config_from_flags(self, values: flags.FlagValues):
        return settings.from_flags(self.config_class, values)


TRAINERS = {
    "value_based": Trainer("tfprune_rl.train", TrainConfig,
                           "tfprune_rl.envs.factory:make_gym_env"),
    "continuous": Trainer("tfprune_rl.train_continuous", ContinuousConfig,
                          "tfprune_rl.envs.continuous:make_continuous_env"),
}
