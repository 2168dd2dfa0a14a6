# Build settings every lesson shares: C++17, strict warnings, optional sanitizers, and Catch2 (v2 or v3).
# A lesson includes this file; it never changes from lesson to lesson.

set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)

if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE RelWithDebInfo CACHE STRING "Build type" FORCE)
endif()

# Warnings are errors in the course's own builds, so that no lesson rots; a student on a newer compiler
# that warns about more can turn this off with -DWARNINGS_AS_ERRORS=OFF.
option(WARNINGS_AS_ERRORS "Treat compiler warnings as errors" ON)
add_compile_options(-Wall -Wextra -Wshadow)
if(WARNINGS_AS_ERRORS)
  add_compile_options(-Werror)
endif()

set(SANITIZE "" CACHE STRING "Sanitizers: empty, 'address' (ASan + UBSan) or 'thread' (TSan)")
# A sanitizer build is for finding bugs, not for a debugger: -O1 -g1 (after the build type's -O2 -g,
# so they win) keeps the line tables its reports need, runs fast enough, and compiles a third faster
# (lesson 14's ASan build: 67 s with -O2 -g, 42 s).
set(SANITIZER_BUILD_OPTIONS -O1 -g1 -fno-omit-frame-pointer)
if(SANITIZE STREQUAL "address")
  # No vptr check: it needs a spare file descriptor to probe memory, and with none left (the
  # fd-exhaustion tests) GCC 12's UBSan reports every virtual call as an invalid object.
  add_compile_options(-fsanitize=address,undefined -fno-sanitize=vptr -fno-sanitize-recover=all
                      ${SANITIZER_BUILD_OPTIONS})
  add_link_options(-fsanitize=address,undefined -fno-sanitize=vptr)
elseif(SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread ${SANITIZER_BUILD_OPTIONS})
  add_link_options(-fsanitize=thread)
elseif(NOT SANITIZE STREQUAL "")
  message(FATAL_ERROR "SANITIZE must be empty, 'address' or 'thread', not '${SANITIZE}'")
endif()

# The unit tests' own code is compiled without optimisation (after the options above, so -O0 wins):
# the library they test keeps the build's level, and most of a test file is Catch2's macros, which
# take the optimiser long to chew. Lesson 16, whole build, 2 cores (2 December 2026): ASan 57 s ->
# 46 s, normal 57 s -> 44 s on a quiet machine; CPU time of builds run side by side -20% (ASan),
# -15% (normal), -2% (TSan). Warnings that only the optimiser finds are no longer seen in them.
add_compile_options("$<$<STREQUAL:$<TARGET_PROPERTY:NAME>,unit_tests>:-O0>")

find_package(Catch2 QUIET)
if(NOT Catch2_FOUND)
  message(FATAL_ERROR "Catch2 not found: install it (Debian/Ubuntu: apt-get install catch2)")
endif()

# tests/main.cpp compiles all of Catch2 v2's implementation: optimised, debuggable and instrumented,
# it takes 20 s per lesson and per build, while nothing of ours is in it. Plain, it takes 6 s.
set_source_files_properties(tests/main.cpp PROPERTIES COMPILE_OPTIONS "-O0;-g0;-fno-sanitize=all")
