#!/usr/bin/env bash
# Data-parallel `sne train` launched by torchrun, which starts sne itself (--no_python) and sets RANK, WORLD_SIZE,
# LOCAL_RANK, MASTER_ADDR and MASTER_PORT for it.
#
# One machine, 2 processes:
#   scripts/cluster/torchrun-example.sh configs/inr_frequency.yaml runs/inr-dp
# Two machines (run on each; NODE_RANK 0 and 1; MASTER_ADDR the first machine's address):
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 NPROC=8 GLOO_SOCKET_IFNAME=eth0 scripts/cluster/torchrun-example.sh ...
#
# Debian 12's torchrun (PyTorch 1.13 on Python 3.11) cannot parse its own default redirect setting; "-r 1 -t 1"
# (stdout to a log file and to the console) avoids that. PyTorch 2.x's torchrun needs neither.
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: $0 CONFIG RUN_DIR [sne train options...]" >&2
  exit 2
fi
config=$1 run_dir=$2
shift 2
SNE=${SNE:-$(command -v sne || echo build/apps/sne)}
resume=()
[[ -f "$run_dir/checkpoints/last/state.json" ]] && resume=(--resume)
exec torchrun --nnodes "${NNODES:-1}" --node_rank "${NODE_RANK:-0}" --nproc_per_node "${NPROC:-2}" \
  --master_addr "${MASTER_ADDR:-127.0.0.1}" --master_port "${MASTER_PORT:-29500}" \
  -r 1 -t 1 --log_dir "${TORCHRUN_LOG_DIR:-$run_dir.torchrun-logs}" \
  --no_python "$SNE" train "$config" --run-dir "$run_dir" ${resume[@]+"${resume[@]}"} "$@"
