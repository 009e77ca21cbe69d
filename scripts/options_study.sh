#!/usr/bin/env bash
# The training-options study of docs/results.md ("Choosing training options on held-out images").
#
# Stage 1 (selection): every candidate configuration of 784-512x3-10 trains on the first 4,000 of the
# 5,000 training images and is scored on the last 1,000 (--holdout 1000), seed 0, 15-shot vote error
# after the last epoch. The validation images are never looked at.
# Stage 2 (assessment): the chosen configuration of each network (the native `linear` one and the
# paper's `tanh` one) trains on all 5,000 training images with seeds 0-4 and is scored once on the
# 5,000 validation images.
#
# Usage: scripts/options_study.sh select | assess NAME 'FLAGS'
#   Every sweep runs on the Dask cluster named by $DASK_SCHEDULER_ADDRESS (e.g. a `dask scheduler` and
#   two `dask worker --nthreads 1` on 127.0.0.1, see docs/scaling.md), the drivers side by side;
#   without it, one after another in this process. Each is resumable (rerun to continue).
set -euo pipefail
OUT=${OUT:-docs/results/study}
NET="--hidden 512 512 512 --no-plots --no-progress"
L="--stretch linear --surrogate expected"
run() {  # run NAME FLAGS...: one sweep into $OUT/NAME, in the background when a scheduler is set
  local name=$1; shift
  if [ -n "${DASK_SCHEDULER_ADDRESS:-}" ]; then
    qnqnn sweep "$@" --results-dir "$OUT/$name" > "$OUT/$name.log" 2>&1 &
    sleep 2
  else
    qnqnn sweep "$@" --results-dir "$OUT/$name"
  fi
}
mkdir -p "$OUT"
case "${1:-}" in
  select)
    H="$NET --seeds 1 --holdout 1000"
    # the longest first, so that the cluster is never left with one long point at the end
    run sel-linear-e200-avg101 --param a --values 0.5,1,2 $L --epochs 200 --average-from 101 $H
    run sel-tanh-e200-avg101 --param a --values 0.2,0.316,0.5 --epochs 200 --average-from 101 $H
    run sel-linear-a1-e200-avg101-lr0.005 --param a --values 1 $L --epochs 200 --average-from 101 --lr 0.005 $H
    run sel-linear-a1-e200-avg101-lr0.02 --param a --values 1 $L --epochs 200 --average-from 101 --lr 0.02 $H
    run sel-tanh-a0.316-e200-avg101-expected --param a --values 0.316 --surrogate expected --epochs 200 --average-from 101 $H
    run sel-tanh-a0.316-e200-avg101-lr0.005 --param a --values 0.316 --epochs 200 --average-from 101 --lr 0.005 $H
    run sel-linear-a1-e100 --param a --values 1 $L --epochs 100 $H
    run sel-linear-a1-e100-avg51 --param a --values 1 $L --epochs 100 --average-from 51 $H
    run sel-tanh-a0.316-e100 --param a --values 0.316 --epochs 100 $H
    run sel-tanh-a0.316-e100-avg51 --param a --values 0.316 --epochs 100 --average-from 51 $H
    wait
    ;;
  assess)
    # $2: a name, $3: the chosen flags (from the selection table); seeds 0-4 on every training image
    run "final-${2:?name}" ${3:?flags} $NET --seeds 5
    wait
    ;;
  *) echo "usage: $0 select | assess NAME 'FLAGS'" >&2; exit 2 ;;
esac
