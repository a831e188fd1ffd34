"""Run settings, each declared once: a config dataclass's field made by `setting` carries its
help (with the paper's value) and its check. The absl flags, a run's flags.txt and reading it
back, the sweep's flag checks and the README's flag tables are all made from those fields.

A field whose type is a dataclass (the agent's hyperparameters, `PruningConfig`, the pruning
schedule) contributes its own settings, with defaults from the outer field's default. A field
made without `setting` is not a flag: the run fills it in (the pruning's update count).
Nothing here imports TensorFlow.
"""

import dataclasses
import functools
import types
import typing
from typing import Any, Callable, Iterator

from absl import flags

Check = Callable[[str, Any], None]  # raises ValueError naming the flag and what is allowed


def setting(default, help: str, check: Check | None = None, flag: str = "",
            recorded: bool = True) -> Any:
    """A run setting: `flag` renames its flag (default: the field's name); `recorded=False`
    leaves it out of flags.txt (the run directory itself)."""
    return dataclasses.field(default=default, metadata={
        "help": help, "check": check, "flag": flag, "recorded": recorded})


def at_least(low: int, off: bool = False) -> Check:
    def check(name, value):
        if value < low:
            raise ValueError(f"{name}={value} must be >= {low}" + (" (0 turns it off)" * off))
    return check


def between(low: float, high: float, high_open: bool = False) -> Check:
    def check(name, value):
        if not (low <= value < high if high_open else low <= value <= high):
            raise ValueError(f"{name}={value} must be in [{low:g}, {high:g}"
                             f"{')' if high_open else ']'}")
    return check


def positive(name, value) -> None:
    if not value > 0:
        raise ValueError(f"{name}={value} must be > 0")


def one_of(choices, what: str = "") -> Check:
    def check(name, value):
        if value not in choices:
            raise ValueError(f"unknown {what or name.replace('_', ' ')} {value!r}; choose one "
                             f"of {', '.join(choices)}")
    return check


def positive_sizes(name, value) -> None:
    if not value or min(value) < 1:
        raise ValueError(f"{name}={list(value)} must be positive sizes")


def check_settings(config) -> None:
    """Runs the checks of `config`'s own settings (its dataclass fields check theirs)."""
    for field in dataclasses.fields(config):
        if field.metadata.get("check"):
            field.metadata["check"](_flag_name(field), getattr(config, field.name))


@dataclasses.dataclass(frozen=True)
class Flag:
    name: str
    path: tuple[str, ...]  # field names from the run config down to the setting
    field: dataclasses.Field
    default: Any

    @property
    def help(self) -> str:
        return self.field.metadata["help"]

    @property
    def element(self) -> type | None:
        """A list setting's element type; None for a scalar."""
        kind = self.field.type
        if isinstance(kind, types.UnionType):  # an optional list: `tuple[float, float] | None`
            kind = next(t for t in typing.get_args(kind) if t is not type(None))
        return typing.get_args(kind)[0] if typing.get_origin(kind) is tuple else None

    def parse(self, value):
        """The flag's value as the field holds it."""
        if self.element is None:
            return value
        try:
            items = tuple(self.element(item) for item in value)
        except ValueError:
            kind = "integers" if self.element is int else "numbers"
            raise ValueError(f"{self.name}={','.join(value)} must be {kind}") from None
        return items if items or self.default is not None else None


def settings(config_class: type, default=None, path: tuple[str, ...] = ()) -> Iterator[Flag]:
    """Every setting of `config_class` (and of its dataclass fields), in declaration order, a
    base class's last."""
    own = vars(config_class).get("__annotations__", {})
    for field in sorted(dataclasses.fields(config_class), key=lambda f: f.name not in own):
        value = field.default if default is None else getattr(default, field.name)
        if dataclasses.is_dataclass(field.type):
            yield from settings(field.type, value, (*path, field.name))
        elif "help" in field.metadata:
            yield Flag(_flag_name(field), (*path, field.name), field, value)


def define_flags(config_class: type, flag_values: flags.FlagValues) -> tuple[str, ...]:
    """Defines every setting as an absl flag; returns the names recorded in flags.txt."""
    definers = {bool: flags.DEFINE_bool, int: flags.DEFINE_integer,
                float: flags.DEFINE_float, str: flags.DEFINE_string}
    recorded = []
    for flag in settings(config_class):
        if flag.element is None:
            definers[flag.field.type](flag.name, flag.default, flag.help,
                                      flag_values=flag_values)
        else:
            flags.DEFINE_list(flag.name, [str(item) for item in flag.default or ()], flag.help,
                              flag_values=flag_values)
        if flag.field.metadata["recorded"]:
            recorded.append(flag.name)
    return tuple(recorded)


def from_flags(config_class: type, values: flags.FlagValues):
    """The config the parsed flags describe (checked by its dataclasses)."""
    return config_with(config_class, **{flag.name: values[flag.name].value
                                        for flag in settings(config_class)})


def config_with(config_class: type, **values):
    """`config_class` with the settings named as their flags (`sparsity=0.9`,
    `pruning="rigl"`, `pruning_frequency=10`, `env="Pong"`), every other at its default."""
    by_name = {flag.name: flag for flag in settings(config_class)}
    unknown = sorted(set(values) - set(by_name))
    if unknown:
        raise TypeError(f"{config_class.__name__} has no setting {', '.join(unknown)}")
    parsed = {by_name[name].path: by_name[name].parse(value) for name, value in values.items()}

    def changed(cls, default, path) -> dict:
        fields = {}
        for field in dataclasses.fields(cls):
            value = field.default if default is None else getattr(default, field.name)
            if dataclasses.is_dataclass(field.type):
                inner = changed(field.type, value, (*path, field.name))
                if inner:
                    fields[field.name] = dataclasses.replace(value, **inner)
            elif (*path, field.name) in parsed:
                fields[field.name] = parsed[(*path, field.name)]
        return fields
    return config_class(**changed(config_class, None, ()))


def recorded_values(config) -> dict[str, Any]:
    """`config`'s settings by flag name, as flags.txt records them (the run directory left out)."""
    return {flag.name: functools.reduce(getattr, flag.path, config)
            for flag in settings(type(config)) if flag.field.metadata["recorded"]}


def flag_table(config_class: type) -> str:
    """The README's table of a trainer's flags."""
    rows = ["| flag | default | what |", "| --- | --- | --- |"]
    for flag in settings(config_class):
        if flag.field.metadata["recorded"]:
            default = (",".join(str(item) for item in flag.default or ()) if flag.element
                       else flag.default)
            help_text = flag.help.replace("|", "\\|")
            rows.append(f"| `--{flag.name}` | `{default}` | {help_text} |")
    return "\n".join(rows)


def _flag_name(field: dataclasses.Field) -> str:
    return field.metadata.get("flag") or field.name
