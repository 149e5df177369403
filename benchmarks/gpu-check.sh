#!/usr/bin/env bash
# One pass over a CUDA machine that has PyTorch but not sne's other dependencies, within a time budget:
#   1. build sne against the machine's LibTorch (scripts/build-pytorch.sh, dependencies from BUNDLE);
#   2. the encoder benchmark side by side with the PyTorch reference (benchmarks/side_by_side.py) on the GPU, then
#      on the CPU of the same machine as a baseline; the sine-generator benchmark on the GPU;
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
upto() { local s=$(( $(left) - $1 )); echo $(( s < $2 ? $2 : s )); }  # RESERVE FLOOR: what is left less RESERVE, >= FLOOR
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
timeout "$(upto 30 60)" bash -c "cmake --build build-gpu -j 4 && ctest --test-dir build-gpu --output-on-failure -j 3" \
  >"$out/ctest.log" 2>&1 &
tests=$!

stamp "benchmarks"
# sne (bench_encoder) and the PyTorch reference, one process per architecture each; at most 150 + 90 + 45 s here.
timeout 150 "${PYTHON:-python3}" -u benchmarks/side_by_side.py --build build-gpu --device "${SNE_DEVICE:-cuda}" \
  --archs siren,small_cnn,arch2,vit --repeat 5 --out "$out/side_by_side_cuda" >"$out/side_by_side_cuda.txt" 2>&1 \
  || stamp "side by side on ${SNE_DEVICE:-cuda}: exit $? (124: stopped at 150 s)"
stamp "CPU baseline, same machine, 4 threads"
timeout 90 "${PYTHON:-python3}" -u benchmarks/side_by_side.py --build build-gpu --device cpu --threads 4 \
  --archs siren,small_cnn --repeat 2 --out "$out/side_by_side_cpu" >"$out/side_by_side_cpu.txt" 2>&1 \
  || stamp "side by side on cpu: exit $? (124: stopped at 90 s)"
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
sweep "$out/sweep" "$epochs" --time-limit "$(upto 50 30)" >"$out/sweep.log" 2>&1
stamp "sweep done"
cat "$out"/sweep/*/ablations.md >"$out/tables.md" 2>/dev/null

wait $tests; echo "tests: exit $? (124: stopped at the time budget)" >>"$out/ctest.log"
stamp "end"
