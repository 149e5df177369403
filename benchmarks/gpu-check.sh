#!/usr/bin/env bash
# One pass over a CUDA machine that has PyTorch but not sne's other dependencies, within a time budget:
#   1. build sne against the machine's LibTorch (scripts/build-pytorch.sh, dependencies from BUNDLE);
#   2. the encoder and sine-generator benchmarks on the GPU, with a CPU baseline on the same machine;
#   3. the INR-frequency ablation (configs/ablations/) plus a few variations of the full model, all rows at once
#      on the GPU, with the number of epochs sized from a one-epoch calibration to fit the budget;
#   4. meanwhile, the test suite (ctest) against this build, whose CLI tests then run on the GPU (device auto).
#   benchmarks/gpu-check.sh BUNDLE ZOO OUT_DIR SECONDS      (SNE_DEVICE=cpu: a dry run of the script itself)
set -uo pipefail
[[ $# -eq 4 ]] || { echo "usage: $0 BUNDLE ZOO OUT_DIR SECONDS" >&2; exit 2; }
root="$(cd "$(dirname "$0")/.." && pwd)"
bundle="$(cd "$1" && pwd)"; zoo="$(realpath "$2")"; out="$3"; budget="$4"
cd "$root"
mkdir -p "$out"
t0=$SECONDS
left() { echo $(( budget - (SECONDS - t0) )); }
stamp() { echo "[$(( SECONDS - t0 )) s] $*" | tee -a "$out/timeline.txt"; }

{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  "${PYTHON:-python3}" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.is_available())'
  g++ --version | head -1; cmake --version | head -1; nproc; } >"$out/env.txt" 2>&1
stamp "build sne and the benchmarks"
SNE_TARGETS="sne bench_encoder bench_sine_generate" scripts/build-pytorch.sh "$bundle" build-gpu \
  -DSNE_PYTHON="$(command -v "${PYTHON:-python3}")" >"$out/build.log" 2>&1 || { stamp "BUILD FAILED"; tail -60 "$out/build.log"; exit 1; }
export LD_LIBRARY_PATH="$bundle/runtime:$bundle/hdf5/lib:$bundle/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
sne="$root/build-gpu/apps/sne"

stamp "tests: build and run in the background"
timeout $(( budget - 30 )) bash -c "cmake --build build-gpu -j 4 && ctest --test-dir build-gpu --output-on-failure -j 3" \
  >"$out/ctest.log" 2>&1 &
tests=$!

stamp "benchmarks"
timeout 75 stdbuf -oL build-gpu/benchmarks/bench_encoder --device "${SNE_DEVICE:-cuda}" --repeat 5 --threads 4 \
  >"$out/bench_encoder.txt" 2>&1
echo "--- CPU baseline, same machine, 4 threads" >>"$out/bench_encoder.txt"
timeout 45 stdbuf -oL build-gpu/benchmarks/bench_encoder --device cpu --repeat 2 --threads 4 >>"$out/bench_encoder.txt" 2>&1
timeout 45 stdbuf -oL build-gpu/benchmarks/bench_sine_generate --device "${SNE_DEVICE:-cuda}" --inrs 512 --batches 1,64,512 \
  --steps 50 >"$out/bench_sine.txt" 2>&1

base=configs/inr_frequency.yaml
common=(--set "zoo.path=$zoo" --threads 1 --device "${SNE_DEVICE:-cuda}")
sweep() {  # DIR EPOCHS [run-ablations options]: the ablation rows and the variations, all at once
  local dir="$1" epochs="$2"; shift 2
  scripts/run-ablations.sh -j 8 --sne "$sne" "$@" "$dir/ablations" $base "${common[@]}" --set train.epochs=$epochs &
  scripts/run-ablations.sh --only full --sne "$sne" "$@" "$dir/lr1e-3" $base "${common[@]}" --set train.epochs=$epochs --set train.lr=0.001 &
  scripts/run-ablations.sh --only full --sne "$sne" "$@" "$dir/dim64" $base "${common[@]}" --set train.epochs=$epochs --set encoder.dim=64 &
  scripts/run-ablations.sh --only full --sne "$sne" "$@" "$dir/dim64_lr1e-3" $base "${common[@]}" --set train.epochs=$epochs --set encoder.dim=64 --set train.lr=0.001 &
  wait
}
stamp "calibration: one epoch of every row at once"
sweep "$out/calibration" 1 >"$out/calibration.log" 2>&1
epoch_s=$(python3 - "$out/calibration" <<'PY'
import glob, json, sys
print(max(json.loads(open(f).readline())["seconds"] for f in glob.glob(sys.argv[1] + "/*/*/metrics.jsonl")))
PY
)
epochs=$(python3 -c "import sys; print(max(2, min(400, int(($(left) - 75) / ($epoch_s * 1.1)))))")
stamp "one epoch takes up to ${epoch_s} s with every row running; training ${epochs} epochs"
sweep "$out/sweep" "$epochs" --time-limit $(( $(left) - 50 )) >"$out/sweep.log" 2>&1
stamp "sweep done"
cat "$out"/sweep/*/ablations.md >"$out/tables.md" 2>/dev/null

wait $tests; echo "tests: exit $? (124: stopped at the time budget)" >>"$out/ctest.log"
stamp "end"
