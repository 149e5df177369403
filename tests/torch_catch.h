#pragma once
// Catch2 for tests that include LibTorch: c10's logging defines glog-style CHECK macros that would silently
// replace Catch's (a failing CHECK would abort instead of being reported, a passing one would not be counted).
// Include this instead of <catch2/catch.hpp>, before any project header.
#include <ATen/ATen.h>
#include <torch/torch.h>

#undef CHECK
#undef CHECK_EQ
#undef CHECK_NE
#undef CHECK_LT
#undef CHECK_LE
#undef CHECK_GT
#undef CHECK_GE
#undef CHECK_NOTNULL
#include <catch2/catch.hpp>
