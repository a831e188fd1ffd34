#!/bin/bash
# Runs the width study (minatar_width_study.flags: the same 54 trials and flags) one width at a
# time, so every game's dense and 95% runs at a width finish before the next width starts and
# the report has a whole slice early: a width-1 run takes 15-25 core-minutes, width 3 30-95,
# width 5 80-300, by machine. Finished trials are skipped; a trial that was going resumes.
# Run it from the study's own clone (its .venv trains):
#   bash ../main/experiments/sweeps/minatar_width_study.sh [ROOT_DIR] [PARALLEL]
set -euo pipefail
sweeps=$(cd "$(dirname "$0")" && pwd)
root_dir=${1:-$sweeps/../results/minatar_width}
parallel=${2:-1}
mkdir -p "$root_dir"
# A run started on another machine, whose checkpoints did not come with it, starts over: its
# directory goes first, so that its old TensorBoard events are not committed with the new ones
# (the study's commit predates the runner's own cleanup of them). A run a trainer holds stays.
find "$root_dir" -name flags.txt -print0 | while IFS= read -r -d '' flags; do
  run=$(dirname "$flags")
  if [[ ! -e $run/metrics.json ]] && ! compgen -G "$run/checkpoints/ckpt-*.index" > /dev/null &&
    flock -n "$run/lock" rm -rf "$run"; then
    echo "started over (no checkpoint here): $run"
  fi
done
common=$(mktemp)
trap 'rm -f "$common"' EXIT
grep -v '^--grid=width=' "$sweeps/minatar_width_study.flags" > "$common"
for width in $(sed -n 's/^--grid=width=//p' "$sweeps/minatar_width_study.flags" | tr , ' '); do
  .venv/bin/tfprune-sweep --flagfile="$common" --grid=width="$width" --root_dir="$root_dir" \
    --parallel="$parallel" --progress_interval=300
done
