#!/usr/bin/env bash
# The README's main command: install dependencies, build, run `sne run` on the embedded default config.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
build/apps/sne run "$@"
