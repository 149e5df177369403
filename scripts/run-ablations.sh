#!/usr/bin/env bash
# Runs the component ablation (SNE paper Table 6) with `sne ablate`, JOBS rows at a time.
#   scripts/run-ablations.sh [-j JOBS] [--sne PATH] [--only a,b] OUT_DIR BASE_CONFIG [SNE ARGS...]
# A row per overlay in configs/ablations/*.yaml: BASE_CONFIG + OVERLAY trained in OUT_DIR/ROW (SNE ARGS passed on,
# e.g. --set, --threads, --seeds 3), then tested on the test split (5 symmetry samples for the invariance error).
# With -j N, N `sne ablate --rows ...` processes share the rows (on a GPU several fit at once); a last `sne ablate`
# writes OUT_DIR/ablation.md (also printed) and ablation.json from all of them. Finished rows are reused and
# interrupted ones resume (lib/study/run_dir.h). Draw it with: sne report OUT_DIR
# Example: scripts/run-ablations.sh -j 2 runs/ablations configs/inr_frequency.yaml --set zoo.path=zoos/sine_4000.h5
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
jobs=1
sne="$root/build/apps/sne"
only=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    -j) jobs="$2"; shift 2 ;;
    --sne) sne="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;   # comma-separated row names
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) break ;;
  esac
done
if [[ $# -lt 2 ]]; then echo "usage: $0 [-j JOBS] [--sne PATH] [--only a,b] OUT_DIR BASE_CONFIG [SNE ARGS...]" >&2; exit 2; fi
out="$1"; base="$2"; shift 2
[[ -x "$sne" ]] || { echo "$sne: no sne binary (build first: scripts/build.sh)" >&2; exit 2; }
[[ -f "$base" ]] || { echo "$base: no such config" >&2; exit 2; }
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "-j: expected a positive number of jobs, got '$jobs'" >&2; exit 2; }
mkdir -p "$out"
rows_dir="$root/configs/ablations"

rows=()
if [[ -n "$only" ]]; then IFS=, read -r -a rows <<<"$only"; else
  for f in "$rows_dir"/*.yaml; do rows+=("$(basename "$f" .yaml)"); done
fi
only_args=()
[[ -n "$only" ]] && only_args=(--rows "$only")

status=0
if (( jobs > 1 )); then
  for ((k = 0; k < jobs; k++)); do  # row i goes to job i mod JOBS
    share=""
    for ((i = k; i < ${#rows[@]}; i += jobs)); do share+="${share:+,}${rows[i]}"; done
    [[ -z "$share" ]] && continue
    "$sne" ablate "$base" --rows-dir "$rows_dir" --rows "$share" -o "$out" "$@" >"$out/ablate-job$k.log" 2>&1 &
  done
  while true; do
    rc=0
    wait -n || rc=$?
    (( rc == 127 )) && break  # no job left
    (( rc != 0 )) && { echo "an ablate job failed (exit $rc); see $out/ablate-job*.log" >&2; status=1; }
  done
fi
# Reuses what the jobs finished (all of it with -j 1: it trains every row itself) and writes the table.
"$sne" ablate "$base" --rows-dir "$rows_dir" "${only_args[@]}" -o "$out" "$@" || status=$?
exit "$status"
