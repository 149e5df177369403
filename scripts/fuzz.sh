#!/usr/bin/env bash
# Long, coverage-guided fuzz runs with libFuzzer (clang; AddressSanitizer and UndefinedBehaviorSanitizer) of the
# targets in tests/fuzz: the JSON reader, the config loader, the zoo reader and validator, the image readers, the
# checkpoint reader.
#   scripts/fuzz.sh [SECONDS] [TARGET...]     SECONDS per target (default 600); TARGETs: json config zoo images
#                                             checkpoint
# The checkpoint target's seeds are trained by $SNE_BINARY (default build/apps/sne, from scripts/build.sh).
# Builds them in build-fuzz/ (CC=clang, -DSNE_FUZZ=ON), writes the seed corpus (tests/fuzz/make_corpus.py),
# runs each target for SECONDS on build-fuzz/corpus/TARGET (kept between runs, so runs build on each other),
# and keeps what it finds in build-fuzz/findings/TARGET/. The zoo target runs in libFuzzer's fork mode and goes
# on after a crash: libhdf5 1.10 crashes and hangs on some damaged files, which sne's guard turns into exit 3;
# each finding is then replayed by fuzz_zoo_replay --fork, which tells a crash inside HDF5 from one of sne.
# ctest runs a short deterministic pass of the same targets (fuzz_* tests) without clang.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
[[ $# -gt 0 ]] && shift
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(json config zoo images checkpoint)
command -v clang++ >/dev/null || { echo "fuzz.sh: needs clang (Debian package clang)" >&2; exit 2; }
build=build-fuzz
if [[ ! -f $build/build.ninja ]]; then
  CC=clang CXX=clang++ cmake -S . -B $build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSNE_FUZZ=ON \
    -DSNE_BUILD_BENCHMARKS=OFF -DSNE_DISTRIBUTED=OFF >/dev/null
fi
ninja -C $build "${targets[@]/#/fuzz_}"
ninja -C $build $(printf 'fuzz_%s_replay ' "${targets[@]}") >/dev/null
SNE_BINARY=${SNE_BINARY:-$PWD/build/apps/sne}
[[ -x $SNE_BINARY ]] || { echo "fuzz.sh: the checkpoint seeds need a built sne ($SNE_BINARY): run scripts/build.sh" >&2; exit 2; }
SNE_BINARY=$SNE_BINARY /usr/bin/python3 tests/fuzz/make_corpus.py $build/corpus-seed >/dev/null
status=0
for t in "${targets[@]}"; do
  mkdir -p $build/corpus/$t $build/findings/$t
  cp -n $build/corpus-seed/$t/* $build/corpus/$t/
  opts=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix=$build/findings/$t/)
  [[ $t == zoo || $t == checkpoint ]] && opts+=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1)
  echo "fuzz.sh: $t for $secs s"
  $build/tests/fuzz/fuzz_$t "${opts[@]}" $build/corpus/$t >$build/fuzz_$t.log 2>&1 || true
  grep -E "^#[0-9]+.*DONE|stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added" \
    $build/fuzz_$t.log | tail -4 || true
  # Each finding replayed alone: where did it happen? The first frame of the sanitizer's (or the crash's) stack
  # that is not an interceptor or an allocator names the place: libhdf5 or sne.
  n_lib=0 n_sne=0 n_other=0
  for f in $(find $build/findings/$t -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \)); do
    frame=$(timeout 60 $build/tests/fuzz/fuzz_$t -timeout=10 -rss_limit_mb=2048 "$f" 2>&1 |
            grep -E '^ +#[0-9]+ ' | grep -v -E 'interceptor|malloc|calloc|realloc|operator new|libFuzzer|fuzzer::|__sanitizer|libc\.so|libstdc\+\+|nptl|asan_|ubsan' |
            head -1 || true)
    if [[ $frame == *libhdf5* || $frame == *libtorch_cpu* ]]; then n_lib=$((n_lib + 1))
    elif [[ -n $frame ]]; then n_sne=$((n_sne + 1)); echo "fuzz.sh: $t: $(basename "$f"): $frame"
    else n_other=$((n_other + 1)); fi
  done
  echo "fuzz.sh: $t: findings inside libhdf5 or LibTorch $n_lib, in sne $n_sne, not reproduced alone $n_other (build-fuzz/findings/$t/)"
  [[ $n_sne -eq 0 ]] || status=1
done
exit $status
