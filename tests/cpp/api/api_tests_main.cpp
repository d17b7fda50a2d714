#define BOOST_TEST_MODULE api_tests
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>
#include <spdlog/cfg/env.h>
#include <spdlog/spdlog.h>

namespace {
// The lifecycle tests log warnings by design. SPDLOG_LEVEL=debug shows the engine's own logs.
struct Quiet {
  Quiet() {
    spdlog::set_level(spdlog::level::warn);
    spdlog::cfg::load_env_levels();
  }
};
}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(Quiet);
