#!/usr/bin/env bash
# Opt-in test of the cluster scripts on a real SLURM (not run by ctest: it needs root and starts daemons).
#   sudo tests/cluster/test_slurm.sh [build/apps/sne]
# It brings up a one-machine SLURM (scripts/cluster/slurm-localhost.sh) and checks, with 2 tasks:
#   1. scripts/cluster/train.sbatch trains to completion;
#   2. `scancel --signal=TERM` mid-run makes every rank save and exit 143; submitting the same job again resumes
#      it, and it ends with the weights of the uninterrupted run of step 1;
#   3. scripts/cluster/encode-sharded.sh (an array of 3 encodes and a merge job) gives the unsharded file.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
sne=$(readlink -f "${1:-$root/build/apps/sne}")
py=/usr/bin/python3
"$root/scripts/cluster/slurm-localhost.sh"
work=$(mktemp -d /tmp/sne-slurm.XXXXXX)
jobs_submitted=()
trap 'for j in ${jobs_submitted[@]+"${jobs_submitted[@]}"}; do scancel "$j" 2>/dev/null || true; done; rm -rf "$work"' EXIT
cd "$work"
fail() { echo "test_slurm: FAIL: $*" >&2; exit 1; }
# Waits for job $1 to leave the queue (up to $2 s).
wait_job() {
  for _ in $(seq "$2"); do
    squeue -h -j "$1" 2>/dev/null | grep -q . || return 0
    sleep 1
  done
  fail "job $1 still queued after $2 s"
}

SNE_SOURCE_DIR=$root $py -c "
import sys; sys.path.insert(0, '$root/tests/cli')
from test_train import write_zoo; write_zoo('$work/toy.h5')"
cat > toy.yaml <<CONF
zoo: {path: $work/toy.h5, reader: {batch_size: 8}}
encoder: {dim: 16, chunk_size: 8}
predictor: {hidden: 32}
task: {property: scale}
train: {epochs: 150, lr: 0.002, warmup_steps: 5, data_shards: 2}
CONF
submit() {  # submit RUN_DIR [sbatch options]: prints the job id
  local run=$1
  shift
  CONFIG=$work/toy.yaml RUN_DIR=$run SNE=$sne sbatch --parsable --ntasks=2 --cpus-per-task=1 --chdir="$work" \
    --output="$work/%j.out" "$@" "$root/scripts/cluster/train.sbatch"
}
track() { jobs_submitted+=("$1"); }

echo "== 1. sbatch with 2 tasks trains to completion"
job=$(submit "$work/whole")
track "$job"
wait_job "$job" 600
grep -q "150 epochs" "$work/$job.out" || { cat "$work/$job.out"; fail "the run did not finish"; }
[[ $(wc -l < "$work/whole/metrics.jsonl") -eq 150 ]] || fail "metrics.jsonl should hold 150 epochs once each"
grep -q "data-parallel: 2 processes (slurm variables)" "$work/$job.out" || fail "sne did not see SLURM's 2 tasks"

echo "== 2. scancel --signal=TERM mid-run, then the same job again"
job=$(submit "$work/preempted")
track "$job"
for _ in $(seq 300); do [[ -s "$work/preempted/metrics.jsonl" ]] && break; sleep 0.2; done
[[ -s "$work/preempted/metrics.jsonl" ]] || fail "no epoch logged"
scancel --signal=TERM "$job"
wait_job "$job" 120
grep -q "stopped by SIGTERM with a checkpoint" "$work/$job.out" || { cat "$work/$job.out"; fail "no clean stop"; }
step=$($py -c "import json; print(json.load(open('$work/preempted/checkpoints/last/state.json'))['step'])")
[[ $step -gt 0 && $step -lt 750 ]] || fail "the checkpoint is at step $step, not mid-run"
echo "stopped at step $step of 750"
job=$(submit "$work/preempted")
track "$job"
wait_job "$job" 600
grep -q "resuming" "$work/$job.out" || fail "the second job did not resume"
grep -q "150 epochs" "$work/$job.out" || { cat "$work/$job.out"; fail "the resumed run did not finish"; }
$py - "$work/whole" "$work/preempted" <<'PY'
import json, sys, torch
a, b = (torch.jit.load(f"{d}/checkpoints/last/model.pt").state_dict() for d in sys.argv[1:])
worst = max(float((a[k] - b[k]).abs().max() / a[k].abs().max().clamp(min=1e-12)) for k in a)
epochs = [json.loads(l)["epoch"] for l in open(f"{sys.argv[2]}/metrics.jsonl")]
assert epochs == list(range(1, 151)), epochs
assert worst <= 1e-6, worst
print(f"resumed run equals the uninterrupted one (max relative difference {worst:.1e})")
PY

echo "== 3. encode as an array of 3 tasks and a merge job"
SNE=$sne "$root/scripts/cluster/encode-sharded.sh" 3 "$work/toy.h5" "$work/whole/checkpoints/best" "$work/codes.h5" \
  --chdir="$work" --cpus-per-task=1 | tee "$work/encode.txt"
merge=$(grep -o 'merge job [0-9]*' "$work/encode.txt" | grep -o '[0-9]*')
track "$(grep -o 'array job [0-9]*' "$work/encode.txt" | grep -o '[0-9]*')"
track "$merge"
wait_job "$merge" 300
[[ -f "$work/codes.h5" ]] || { cat "$work"/sne-encode*.out; fail "no merged file"; }
"$sne" encode "$work/toy.h5" --checkpoint "$work/whole/checkpoints/best" -o "$work/whole.h5" >/dev/null 2>&1
$py - "$work/whole.h5" "$work/codes.h5" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1]) as a, h5py.File(sys.argv[2]) as b:
    for k in ("embeddings", "index", "properties/scale"):
        np.testing.assert_array_equal(a[k][:], b[k][:])
print("merged array encode equals the unsharded encode")
PY
echo "test_slurm: all passed"
