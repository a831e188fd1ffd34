"""Gradual magnitude pruning schedule, given as fractions of training (as in the paper).

The paper counts the schedule in gradient updates: sparsity rises from `initial_sparsity` at
`start` of training to the target at `end`, following (1 - progress)^power, and masks are
recomputed every `frequency` updates.
"""

import dataclasses

import tensorflow_model_optimization as tfmot


@dataclasses.dataclass(frozen=True)
class GradualSchedule:
    start: float = 0.2
    end: float = 0.8
    power: int = 3
    initial_sparsity: float = 0.0
    frequency: int = 1000

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

    def update_steps(self, total_updates: int) -> tuple[int, int]:
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

    def polynomial_decay(
        self, final_sparsity: float, total_updates: int
    ) -> tfmot.sparsity.keras.PolynomialDecay:
        begin, end = self.update_steps(total_updates)
        return tfmot.sparsity.keras.PolynomialDecay(
            initial_sparsity=self.initial_sparsity,
            final_sparsity=final_sparsity,
            begin_step=begin,
            end_step=end,
            power=self.power,
            frequency=self.frequency,
        )
