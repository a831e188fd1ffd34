"""When masks change, as small values counted in gradient updates and given as fractions of
training (as in the papers). `update_steps(total_updates)` is the range of updates after which
a method's `new_masks` runs; masks made before the first update are not in it.

- `NoUpdates`: masks fixed after initialization (static, SNIP, GraSP, lottery ticket).
- `OneShot`: one mask update, at a fraction of training.
- `Periodic`: every `frequency` updates until `end`, with RigL's cosine drop fraction
  (Evci et al. 2020): drop(t) = drop_fraction / 2 * (1 + cos(pi * t / end)).
- `PolynomialSchedule`: gradual magnitude pruning (Zhu & Gupta 2017, the paper's): sparsity
  rises from `initial_sparsity` at `start` to the target at `end` as 1 - (1 - progress)^power,
  masks recomputed every `frequency` updates; TF-MOT's `PolynomialDecay` holds it.
"""

import dataclasses
import math

from tfprune_rl.settings import setting


def _check_fraction(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name}={value} must be a fraction of training in [0, 1]")


def _too_short(what: str, total_updates: int) -> ValueError:
    return ValueError(f"{what} leaves no mask update in {total_updates} updates; lower the "
                      "pruning frequency or train for longer")


@dataclasses.dataclass(frozen=True)
class NoUpdates:
    def update_steps(self, total_updates: int) -> range:
        return range(0)


@dataclasses.dataclass(frozen=True)
class OneShot:
    at: float = 0.5

    def __post_init__(self):
        _check_fraction("one-shot step", self.at)

    def update_steps(self, total_updates: int) -> range:
        step = max(round(self.at * total_updates), 1)
        return range(step, step + 1)


@dataclasses.dataclass(frozen=True)
class Periodic:
    frequency: int = 1000
    end: float = 0.75
    drop_fraction: float = 0.3

    def __post_init__(self):
        if self.frequency < 1:
            raise ValueError(f"pruning frequency={self.frequency} must be >= 1 update")
        _check_fraction("regrow_end", self.end)
        if not 0.0 < self.drop_fraction <= 1.0:
            raise ValueError(f"drop_fraction={self.drop_fraction} must be in (0, 1]")

    def update_steps(self, total_updates: int) -> range:
        """Every `frequency` updates strictly before `end` of training."""
        steps = range(self.frequency, round(self.end * total_updates), self.frequency)
        if not steps:
            raise _too_short(f"regrow_end={self.end} with frequency {self.frequency}",
                             total_updates)
        return steps

    def drop_fraction_at(self, step, total_updates: int):
        import tensorflow as tf  # schedules are checked before TensorFlow is imported

        end = round(self.end * total_updates)
        progress = tf.minimum(tf.cast(step, tf.float32) / end, 1.0)
        return self.drop_fraction / 2 * (1.0 + tf.cos(math.pi * progress))


@dataclasses.dataclass(frozen=True)
class PolynomialSchedule:
    start: float = setting(0.2, "gmp: fraction of gradient updates at which pruning starts. "
                           "Paper: 0.2.", flag="pruning_start")
    end: float = setting(0.8, "gmp: fraction of gradient updates at which the final sparsity "
                         "is reached. Paper: 0.8.", flag="pruning_end")
    power: int = setting(3, "gmp: exponent of the polynomial schedule. Paper: 3.",
                         flag="pruning_power")
    initial_sparsity: float = 0.0
    frequency: int = setting(1000, "gmp, set, rigl: gradient updates between mask updates. "
                             "Paper (JaxPruner config) and Graesser et al. 2022: 1000.",
                             flag="pruning_frequency")

    def __post_init__(self):
        if not 0.0 <= self.start < self.end <= 1.0:
            raise ValueError(
                f"pruning start={self.start} and end={self.end} must satisfy 0 <= start < end <= 1"
            )
        if self.frequency < 1:
            raise ValueError(f"pruning frequency={self.frequency} must be >= 1 update")
        if self.power <= 0:
            raise ValueError(f"pruning power={self.power} must be > 0")
        if not 0.0 <= self.initial_sparsity < 1.0:
            raise ValueError(f"initial sparsity={self.initial_sparsity} must be in [0, 1)")

    def window(self, total_updates: int) -> tuple[int, int]:
        """First and last update at which masks change.

        TF-MOT only prunes at `begin + k * frequency <= end`, so `end` is moved down to the
        last such step; otherwise the final sparsity would never be reached.
        """
        begin = round(self.start * total_updates)
        end = round(self.end * total_updates)
        mask_updates = (end - begin) // self.frequency
        if mask_updates < 1:
            raise ValueError(
                f"pruning window of {end - begin} updates (from {begin} to {end} of "
                f"{total_updates}) is shorter than the pruning frequency {self.frequency}; "
                "lower the frequency or train for longer"
            )
        return begin, begin + mask_updates * self.frequency

    def update_steps(self, total_updates: int) -> range:
        begin, end = self.window(total_updates)
        return range(begin, end + 1, self.frequency)

    def polynomial_decay(self, final_sparsity: float, total_updates: int):
        import tensorflow_model_optimization as tfmot  # see drop_fraction_at

        begin, end = self.window(total_updates)
        return tfmot.sparsity.keras.PolynomialDecay(
            initial_sparsity=self.initial_sparsity,
            final_sparsity=final_sparsity,
            begin_step=begin,
            end_step=end,
            power=self.power,
            frequency=self.frequency,
        )
