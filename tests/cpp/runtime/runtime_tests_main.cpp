#define BOOST_TEST_MODULE runtime_tests
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>
#include <spdlog/cfg/env.h>
#include <spdlog/spdlog.h>

extern "C" {
#include <libavutil/log.h>
}

namespace {

// The bad-input tests provoke libav warnings by design; errors still show. SPDLOG_LEVEL=debug
// shows the engine's own logs.
struct Quiet {
  Quiet() {
    av_log_set_level(AV_LOG_ERROR);
    spdlog::set_level(spdlog::level::warn);
    spdlog::cfg::load_env_levels();
  }
};

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(Quiet);
