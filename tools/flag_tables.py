"""Writes README's flag tables from the run settings' declarations (`tfprune_rl.settings`), between
their markers; tests/test_presets.py checks that README holds what this writes.

    python tools/flag_tables.py
"""

import os
import re

from tfprune_rl.entry_points import TRAINERS
from tfprune_rl.settings import flag_table

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(REPO_ROOT, "README.md")


def marked(trainer: str) -> re.Pattern:
    return re.compile(rf"(<!-- flags:{trainer} -->\n).*?(<!-- /flags:{trainer} -->)", re.S)


def readme_with_tables(text: str) -> str:
    for name, trainer in TRAINERS.items():
        table = flag_table(trainer.config_class)
        text = marked(name).sub(lambda match: match.group(1) + table + "\n" + match.group(2), text)
    return text


if __name__ == "__main__":
    with open(README) as f:
        text = f.read()
    with open(README, "w") as f:
        f.write(readme_with_tables(text))
