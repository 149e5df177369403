#pragma once
// One fuzz target: SNE_FUZZ_TARGET(data, size) { ... } defines libFuzzer's entry point. The same source builds
// two ways (tests/fuzz/CMakeLists.txt): with clang's -fsanitize=fuzzer for long runs (scripts/fuzz.sh), and with
// replay_main.cpp for the short deterministic pass ctest runs: every file of the seed corpus, then N seeded
// mutations of each.
//
// A target returns normally for every input, a hostile one included: sne's errors (sne::Error, and what the
// target documents) are the expected outcome of a bad input. Anything else, an uncaught exception such as
// std::bad_alloc, a crash or a sanitizer report, is a defect: sne_fuzz_fail() aborts so the fuzzer keeps the input.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#define SNE_FUZZ_TARGET(data, size) extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)

[[noreturn]] inline void sne_fuzz_fail(const std::string& what) {
  std::fprintf(stderr, "sne fuzz: defect: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

/// A file holding `size` bytes for targets whose code under test reads paths (HDF5, the image readers); one per
/// process, rewritten for each input, under /dev/shm when it exists.
std::string sne_fuzz_file(const uint8_t* data, size_t size, const char* suffix);
