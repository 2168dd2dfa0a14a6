// The test runner's main(). Catch2 v3 ships one in Catch2::Catch2WithMain, v2 does not; writing our
// own works with both.
#if __has_include(<catch2/catch_session.hpp>)
#include <catch2/catch_session.hpp>
#else
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#endif

int main(int argc, char* argv[]) { return Catch::Session().run(argc, argv); }
