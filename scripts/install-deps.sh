#!/usr/bin/env bash
# Installs the Debian 12 packages sne needs to build, test and run; skips what is already installed.
# Needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libtorch-dev libcli11-dev libyaml-cpp-dev libhdf5-dev libspdlog-dev catch2
  libgloo-dev                  # Gloo headers for data-parallel training (torch.distributed); CMake SNE_DISTRIBUTED
  zlib1g-dev                   # lib/data reads gzipped IDX files
  nlohmann-json3-dev           # lib/core/json.cpp: JSON text (specs, provenance, manifests, metrics)
  dataset-fashion-mnist        # real images for `sne zoo generate cnn` (configs/cnn/)
  libopenblas0-openmp          # LibTorch uses libblas.so.3; the reference BLAS is ~30x slower
  python3 python3-numpy python3-h5py   # data-scripts/ and the Python tests
  python3-torch                        # data-scripts/import_dwsnets.py reads PyTorch checkpoints
  python3-scipy                        # data-scripts/convert_svhn.py reads SVHN's MATLAB .mat files
  python3-matplotlib python3-sklearn   # sne report draws with data-scripts/report.py (t-SNE: scikit-learn)
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
if [[ $(id -u) -eq 0 ]]; then
  sudo=()
elif command -v sudo >/dev/null; then
  sudo=(sudo)
else
  echo "install-deps: these packages are missing and this user cannot install them: ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
