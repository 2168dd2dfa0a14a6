#pragma once

// <regex> for the tests. GCC 12, optimising a sanitizer build (-O1 with -fsanitize=address),
// warns that <regex>'s own std::function members "may be used uninitialized" (a false positive of
// its: the state objects are copied whole), and warnings are errors here.

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <regex>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
