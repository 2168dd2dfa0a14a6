# A benchmark program built against one lesson's own library, included by
# tools/bench/xthread/CMakeLists.txt and tools/bench/timer/CMakeLists.txt:
#   lesson_program(NAME FILE)
# checks that LESSON_DIR (-DLESSON_DIR=$PWD/lessons/NN_name) is a lesson directory with src/FILE,
# builds all of the lesson's library as the lesson builds it (Linux headers only: the linker takes
# what the program needs), and the program NAME from NAME.cpp beside the CMakeLists.txt, linked
# with it, with tools/bench (the folder above) on its include path (cli.h, watchdog.h).
set(LESSON_DIR "" CACHE PATH "The lesson whose src/ the program is built with: lessons/NN_name")

function(lesson_program name file)
  if(NOT EXISTS "${LESSON_DIR}/src/${file}")
    message(FATAL_ERROR
      "LESSON_DIR must be a lesson directory with src/${file}, not '${LESSON_DIR}'")
  endif()
  file(GLOB lesson_sources CONFIGURE_DEPENDS "${LESSON_DIR}/src/*.cc")
  add_library(lesson STATIC ${lesson_sources})
  target_include_directories(lesson PUBLIC "${LESSON_DIR}/src")
  target_link_libraries(lesson PUBLIC Threads::Threads)

  add_executable(${name} ${name}.cpp)
  target_include_directories(${name} PRIVATE "${CMAKE_CURRENT_SOURCE_DIR}/..")
  target_link_libraries(${name} PRIVATE lesson)
endfunction()
