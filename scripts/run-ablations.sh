#!/usr/bin/env bash
# Runs the component ablation (SNE paper Table 6) and writes its table.
#   scripts/run-ablations.sh [-j JOBS] [--sne PATH] [--only a,b] [--time-limit S] OUT_DIR BASE_CONFIG [SNE ARGS...]
# For every overlay in configs/ablations/*.yaml: sne train BASE_CONFIG OVERLAY --run-dir OUT_DIR/NAME SNE ARGS,
# then sne eval on the best checkpoint (test split, 5 symmetry samples for the invariance error).
# A finished row (OUT_DIR/NAME/test.json) is kept; an interrupted one resumes. Rows run JOBS at a time
# (default 1; on a GPU several fit at once). --time-limit stops a row's training after S seconds (SIGINT: it
# saves its checkpoint) and evaluates its best checkpoint so far. The table goes to OUT_DIR/ablations.md and stdout.
# Example: scripts/run-ablations.sh runs/ablations configs/inr_frequency.yaml --set zoo.path=zoos/sine_4000.h5
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
jobs=1
sne="$root/build/apps/sne"
only=""
limit=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    -j) jobs="$2"; shift 2 ;;
    --sne) sne="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;   # comma-separated row names
    --time-limit) limit="$2"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) break ;;
  esac
done
if [[ $# -lt 2 ]]; then echo "usage: $0 [-j JOBS] [--sne PATH] [--only a,b] [--time-limit S] OUT_DIR BASE_CONFIG [SNE ARGS...]" >&2; exit 2; fi
out="$1"; base="$2"; shift 2
[[ -x "$sne" ]] || { echo "$sne: no sne binary (build first: scripts/build.sh)" >&2; exit 2; }
[[ -f "$base" ]] || { echo "$base: no such config" >&2; exit 2; }
mkdir -p "$out"

run_row() {  # name overlay
  local name="$1" overlay="$2" dir="$out/$1"
  shift 2
  [[ -f "$dir/test.json" ]] && return 0
  local resume=()
  [[ -d "$dir/checkpoints/last" ]] && resume=(--resume)
  local stop=()
  [[ -n "$limit" ]] && stop=(timeout -s INT -k 60 "$limit")
  local rc=0
  "${stop[@]}" "$sne" train "$base" "$overlay" --run-dir "$dir" "${resume[@]}" "$@" >"$out/$name.log" 2>&1 || rc=$?
  if [[ ($rc -eq 124 || $rc -eq 130) && -n "$limit" ]]; then echo "$name: stopped at the time limit" >>"$out/$name.log"; rc=0; fi
  if [[ $rc -eq 0 ]] &&
     "$sne" eval "$dir/checkpoints/best" --json "$dir/test.json" --invariance-samples 5 >>"$out/$name.log" 2>&1; then
    echo "done: $name"
  else
    echo "FAILED: $name (see $out/$name.log)" >&2
    return 1
  fi
}

status=0
running=0
for overlay in "$root"/configs/ablations/*.yaml; do
  name="$(basename "$overlay" .yaml)"
  if [[ -n "$only" && ",$only," != *",$name,"* ]]; then continue; fi
  run_row "$name" "$overlay" "$@" &
  running=$((running + 1))
  if (( running >= jobs )); then wait -n || status=1; running=$((running - 1)); fi
done
while (( running > 0 )); do wait -n || status=1; running=$((running - 1)); done

python3 - "$out" <<'PY' | tee "$out/ablations.md"
import json, os, sys
out = sys.argv[1]
rows = []
for name in sorted(os.listdir(out)):
    t = os.path.join(out, name, "test.json")
    if not os.path.isfile(t):
        continue
    m = json.load(open(t))
    log = [json.loads(l) for l in open(os.path.join(out, name, "metrics.jsonl"))]
    best = max((r for r in log if r.get("best")), key=lambda r: r["epoch"])
    rows.append((name, m, len(log), best["epoch"], sum(r["seconds"] for r in log)))
order = ["full", "no_level", "no_type", "no_set_functions", "no_positional_hierarchical", "no_invariance"]
rows.sort(key=lambda r: (order.index(r[0]) if r[0] in order else len(order), r[0]))
print("| row | test MSE | Kendall tau | R2 | invariance error | mean-predictor MSE | epochs (best) | train s |")
print("|---|---|---|---|---|---|---|---|")
for name, m, epochs, best, secs in rows:
    print(f"| {name} | {m['mse']:.4f} | {m['kendall_tau']:.4f} | {m['r2']:.4f} | {m['invariance_error']:.2e} | "
          f"{m['mean_predictor_mse']:.3f} | {epochs} ({best}) | {secs:.0f} |")
PY
exit $status
