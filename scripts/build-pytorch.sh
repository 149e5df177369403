#!/usr/bin/env bash
# Builds sne against the LibTorch inside a pip-installed PyTorch (CUDA or not), with the other dependencies
# taken from a folder made by scripts/bundle-deps.sh. Prints the LD_LIBRARY_PATH the binaries need.
#   scripts/build-pytorch.sh BUNDLE_DIR [BUILD_DIR (default build-pytorch)] [CMAKE ARGS...]
set -euo pipefail
[[ $# -ge 1 ]] || { echo "usage: $0 BUNDLE_DIR [BUILD_DIR] [CMAKE ARGS...]" >&2; exit 2; }
root="$(cd "$(dirname "$0")/.." && pwd)"
bundle="$(cd "$1" && pwd)"; shift
build="${1:-$root/build-pytorch}"; [[ $# -gt 0 ]] && shift
python="${PYTHON:-python3}"
torch_prefix="$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)')"
# Keep only the bundled runtime libraries this machine lacks.
for so in "$bundle"/runtime/*.so*; do
  [[ -e "$so" ]] || continue
  if ldconfig -p | grep -q " $(basename "$so") "; then rm -f "$so"; fi
done
# PyTorch ships fmt headers of its own; spdlog must see the fmt it was built with.
mkdir -p "$bundle/fmt-first"
ln -sfn "$bundle/usr/include/fmt" "$bundle/fmt-first/fmt"
export LD_LIBRARY_PATH="$bundle/runtime:$bundle/hdf5/lib:$bundle/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$torch_prefix;$bundle/usr" -DHDF5_ROOT="$bundle/hdf5" -DHDF5_USE_STATIC_LIBRARIES=OFF \
  -DSNE_FMT_INCLUDE_FIRST="$bundle/fmt-first" -DSNE_DISTRIBUTED=OFF "$@"  # the wheel ships no Gloo headers
# SNE_TARGETS (space-separated) builds only those targets, e.g. SNE_TARGETS="sne bench_encoder".
cmake --build "$build" -j "$(nproc)" ${SNE_TARGETS:+--target $SNE_TARGETS}
echo "export LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
