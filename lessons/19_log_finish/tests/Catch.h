#pragma once

// Catch2 v3 split its single header into many; v2 (Debian 12, Ubuntu 22.04) has only the one.
// Tests include this file and work with whichever is installed.
#if __has_include(<catch2/catch_test_macros.hpp>)
#include <catch2/catch_test_macros.hpp>
#else
#include <catch2/catch.hpp>
#endif
