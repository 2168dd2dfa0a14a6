#pragma once

// errno's text for a report, safe to call from several threads at once. std::strerror may return a
// buffer that it shares between threads (C++ says it need not avoid data races), so two threads
// reporting at the same moment could print each other's message. std::error_category::message,
// like every C++ library function not marked otherwise, must not race. The lessons have one thread
// until lesson 11; the library is written for the lessons that follow.

#include <string>
#include <system_error>

inline std::string errnoText(int error) { return std::generic_category().message(error); }
