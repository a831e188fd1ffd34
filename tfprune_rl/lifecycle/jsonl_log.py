"""A run's curves as JSON lines (DIR/diagnostics.jsonl, DIR/evaluations.jsonl), for tools that
read them without TensorBoard's event reader."""

import json
import os
from typing import Callable

from tfprune_rl.files import atomic_open


class JsonlLog:
    def __init__(self, path: str):
        self.path = path

    def rows(self) -> list[dict]:
        """The complete lines; a line cut short by a kill is not one."""
        if not os.path.exists(self.path):
            return []
        rows = []
        with open(self.path) as f:
            for line in f:
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    break
        return rows

    def keep(self, predicate: Callable[[dict], bool]) -> None:
        """Drops the rows `predicate` rejects (written after the checkpoint a run resumes from)."""
        kept = [row for row in self.rows() if predicate(row)]
        with atomic_open(self.path) as f:
            f.writelines(json.dumps(row) + "\n" for row in kept)

    def append(self, row: dict) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps(row) + "\n")
