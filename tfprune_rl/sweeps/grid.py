"""A sweep's trials: every game x grid point x seed, each a trainer run with its own directory.

A trial's id is made of its values alone (game, grid values sorted by flag name, seed), so the
same definition always gives the same directories, whatever order the grid flags come in.
"""

import dataclasses
import itertools
import os

# Set by the sweep itself, so never a grid dimension.
RESERVED_FLAGS = ("root_dir", "env", "seed", "flagfile")


@dataclasses.dataclass(frozen=True)
class Trial:
    env_id: str
    seed: int
    params: tuple[tuple[str, str], ...]  # (trainer flag, value), sorted by flag

    @property
    def run_id(self) -> str:
        point = ",".join(f"{name}={value}" for name, value in self.params) or "base"
        return f"{self.env_id.replace('/', '-')}/{point}/seed{self.seed}"

    def trainer_args(self, trainer_flagfiles: list[str], root_dir: str) -> list[str]:
        """The trainer's flags: the flagfiles first, so that the trial's own values win; paths
        absolute, so that a trainer started elsewhere (a Ray node) reads the same files."""
        return [
            *(f"--flagfile={os.path.abspath(path)}" for path in trainer_flagfiles),
            f"--env={self.env_id}",
            f"--seed={self.seed}",
            *(f"--{name}={value}" for name, value in self.params),
            f"--root_dir={os.path.join(os.path.abspath(root_dir), self.run_id)}",
        ]


def parse_grid(entries: list[str]) -> dict[str, list[str]]:
    """`name=v1,v2,...` entries as {name: values}; a single value fixes a flag for every trial."""
    grid = {}
    for entry in entries:
        name, _, values = entry.partition("=")
        name = name.strip().lstrip("-")
        if not name or not values:
            raise ValueError(f"grid entry {entry!r} must look like name=value1,value2")
        if name in RESERVED_FLAGS:
            raise ValueError(f"grid entry {entry!r}: {name} is set by the sweep itself "
                             "(use --games, --seeds, --root_dir, --trainer_flagfile)")
        if name in grid:
            raise ValueError(f"grid entry {entry!r}: {name} is given twice")
        grid[name] = [value.strip() for value in values.split(",")]
        if "" in grid[name] or len(set(grid[name])) < len(grid[name]):
            raise ValueError(f"grid entry {entry!r}: values must be distinct and non-empty")
    return grid


def read_games(entries: list[str]) -> list[str]:
    """Environment ids; an entry ending in .txt is a file of them (one per line, # comments),
    such as experiments/minatar/games.txt."""
    games = []
    for entry in entries:
        if not entry.endswith(".txt"):
            games.append(entry)
            continue
        try:
            with open(entry) as f:
                games += [line.strip() for line in f
                          if line.strip() and not line.lstrip().startswith("#")]
        except OSError as error:
            raise ValueError(f"games file {entry}: {error.strerror}") from None
    return games


def expand(games: list[str], grid: dict[str, list[str]], seeds: int) -> list[Trial]:
    """Every combination, game-major and seed-minor, so that a partial sweep has every grid
    point of its first games."""
    if not games:
        raise ValueError("games is empty: name at least one environment id")
    if seeds < 1:
        raise ValueError(f"seeds={seeds} must be at least 1")
    names = sorted(grid)
    return [
        Trial(env_id, seed, tuple(zip(names, values)))
        for env_id in games
        for values in itertools.product(*(grid[name] for name in names))
        for seed in range(seeds)
    ]
