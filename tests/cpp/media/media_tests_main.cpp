#define BOOST_TEST_MODULE media_tests
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

extern "C" {
#include <libavutil/log.h>
}

namespace {

// The bad-input tests provoke libav warnings by design; errors still show.
struct QuietLibav {
  QuietLibav() { av_log_set_level(AV_LOG_ERROR); }
};

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(QuietLibav);
