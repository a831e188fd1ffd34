"""What happens between gradient updates, at set update counts: the target network's copy,
mask updates, diagnostics, ReDo and resets. One object says when the next is due and runs it,
so the trainer's loop splits its fused XLA call there and nowhere else."""

import dataclasses
import sys
from typing import Callable

from tfprune_rl.lifecycle.timing import PhaseTimer


@dataclasses.dataclass(frozen=True)
class Event:
    phase: str  # the loop's time is counted to this phase (TensorBoard's 8_time_fraction/)
    updates: range  # the update counts right after which it runs
    run: Callable[[int], None]  # takes the update count


def every(period: int, total_updates: int) -> range:
    """Every `period`-th update of a run of `total_updates`; none for period 0 (off)."""
    return range(period, total_updates + 1, period) if period else range(0)


class Events:
    """Events due after the same update run in the order given."""

    def __init__(self, events: list[Event], timer: PhaseTimer):
        self._events = [event for event in events if event.updates]
        self._timer = timer

    def next_due(self, update: int) -> int:
        """The first update count after `update` at which an event is due."""
        due = [event.updates[max(0, (update - event.updates.start) // event.updates.step + 1)]
               for event in self._events if update < event.updates[-1]]
        return min(due, default=sys.maxsize)

    def run(self, update: int) -> bool:
        """Runs the events due right after `update`; says whether any was."""
        due = [event for event in self._events if update in event.updates]
        for event in due:
            with self._timer.phase(event.phase):
                event.run(update)
        return bool(due)
