#!/bin/bash
# Runs the width study (minatar_width_study.flags: the same 54 trials and flags) one width at a
# time, so every game's dense and 95% runs at a width finish before the next width starts and
# the report has a whole slice early: a width-1 run takes about 15 core-minutes here, width 3
# about 95, width 5 about 300. Finished trials are skipped; a trial that was going resumes.
# Run it from the study's own clone (its .venv trains):
#   bash ../main/experiments/sweeps/minatar_width_study.sh [ROOT_DIR] [PARALLEL]
set -euo pipefail
sweeps=$(cd "$(dirname "$0")" && pwd)
root_dir=${1:-$sweeps/../results/minatar_width}
parallel=${2:-1}
common=$(mktemp)
trap 'rm -f "$common"' EXIT
grep -v '^--grid=width=' "$sweeps/minatar_width_study.flags" > "$common"
for width in $(sed -n 's/^--grid=width=//p' "$sweeps/minatar_width_study.flags" | tr , ' '); do
  .venv/bin/tfprune-sweep --flagfile="$common" --grid=width="$width" --root_dir="$root_dir" \
    --parallel="$parallel" --progress_interval=300
done
