#!/usr/bin/env bash
# The README's test command: install dependencies, build, run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
# One test at a time: each test process already uses every core (LibTorch/OpenMP), and two at once
# oversubscribe the CPU, which OpenMP's spinning barriers turn into a many-fold slowdown.
ctest --test-dir build --output-on-failure
