#define BOOST_TEST_MODULE net_tests
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <spdlog/cfg/env.h>

namespace {
// SPDLOG_LEVEL=debug shows the library's own logs when a test needs explaining.
struct LogLevelFromEnvironment {
  LogLevelFromEnvironment() { spdlog::cfg::load_env_levels(); }
};
}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(LogLevelFromEnvironment);
