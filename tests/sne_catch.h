#pragma once
// Catch2 for every test of the project: include this, never <catch2/catch.hpp> itself.
//
// LibTorch's c10/util/Logging.h defines glog-style CHECK macros. In a test that includes Catch and then any
// header that reaches LibTorch (most project headers do, through core/context.h), c10's CHECK replaced Catch's:
// a failing CHECK aborted the whole binary instead of being reported, and a passing one was not counted. Taking
// c10's header first and dropping its macros leaves CHECK to Catch whatever the test includes afterwards (the
// header's include guard keeps them from coming back).
#if __has_include(<c10/util/Logging.h>)
#include <c10/util/Logging.h>
#undef CHECK
#undef CHECK_EQ
#undef CHECK_NE
#undef CHECK_LT
#undef CHECK_LE
#undef CHECK_GT
#undef CHECK_GE
#undef CHECK_NOTNULL
#endif
#include <catch2/catch.hpp>
