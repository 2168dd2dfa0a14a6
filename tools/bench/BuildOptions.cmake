# Build settings the benchmark programs share, included by tools/bench/CMakeLists.txt,
# tools/bench/xthread/CMakeLists.txt and tools/bench/timer/CMakeLists.txt: C++17, Release unless
# told otherwise, warnings as errors.
set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)
if(NOT CMAKE_BUILD_TYPE)
  set(CMAKE_BUILD_TYPE Release CACHE STRING "Build type" FORCE)
endif()
add_compile_options(-Wall -Wextra -Wshadow -Werror)

find_package(Threads REQUIRED)
