#!/usr/bin/env bash
# Submits a sharded encode: an array of N tasks (encode-array.sbatch), then `sne encode-merge` as a job that
# starts when every task has succeeded.
#   scripts/cluster/encode-sharded.sh N ZOO CHECKPOINT OUT [extra sbatch options...]
set -euo pipefail
if [[ $# -lt 4 ]]; then
  echo "usage: $0 N ZOO CHECKPOINT OUT [sbatch options...]" >&2
  exit 2
fi
n=$1 zoo=$2 checkpoint=$3 out=$4
shift 4
here=$(cd "$(dirname "$0")" && pwd)
SNE=${SNE:-sne}
array=$(ZOO=$zoo CHECKPOINT=$checkpoint OUT=$out SNE=$SNE sbatch --parsable --array=0-$((n - 1)) "$@" \
  "$here/encode-array.sbatch")
merge=$(sbatch --parsable --dependency=afterok:"$array" --job-name=sne-encode-merge --output=sne-encode-merge-%j.out \
  "$@" --wrap "$(printf '%q ' "$SNE" encode-merge "$out" --zoo "$zoo" --overwrite --remove-parts)")
echo "encode array job $array ($n tasks), merge job $merge -> $out"
