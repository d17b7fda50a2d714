// The C++ worker's frame skipper and loading overlay against the cases of tests/upstream_rules.json,
// the file our Python classes and upstream's own are held to (tests/python/package/test_upstream_rules.py).

#include <fstream>
#include <sstream>
#include <string>

#include <boost/test/unit_test.hpp>

#include "trickle/runtime/frame_skipper.hpp"
#include "trickle/runtime/loading_overlay.hpp"
#include "trickle/util/python_json.hpp"

using namespace trickle;

namespace {

// Held by the caller: a range-for over a part of a temporary would outlive the temporary.
util::Json rules_table() {
  std::ifstream in(std::string(TRICKLE_SOURCE_DIR) + "/tests/upstream_rules.json");
  BOOST_REQUIRE_MESSAGE(in, "cannot read tests/upstream_rules.json");
  std::stringstream text;
  text << in.rdbuf();
  return util::Json::parse(text.str());
}

std::optional<double> optional_number(const util::Json& value) {
  if (value.is_null()) return std::nullopt;
  return value.get<double>();
}

media::DecodedVideoFrame frame_with_pts(std::int64_t pts) {
  return media::DecodedVideoFrame{tensor::Tensor::zeros({1, 8, 8, 3}, tensor::DType::float32), pts, {1, 90000}, {}};
}

runtime::OverlayConfig overlay_config(const util::Json& settings) {
  runtime::OverlayConfig config;
  if (settings.contains("mode"))
    config.mode =
        settings["mode"] == "passthrough" ? runtime::OverlayMode::passthrough : runtime::OverlayMode::progressbar;
  if (settings.contains("enabled")) config.enabled = settings["enabled"].get<bool>();
  if (settings.contains("auto_timeout_seconds"))
    config.auto_timeout_seconds = optional_number(settings["auto_timeout_seconds"]);
  if (settings.contains("frame_count_to_disable"))
    config.frame_count_to_disable = settings["frame_count_to_disable"].get<int>();
  return config;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(upstream_rules)

BOOST_AUTO_TEST_CASE(frame_skipper_patterns) {
  const util::Json table = rules_table();
  BOOST_REQUIRE(!table["frame_skipper"]["patterns"].empty());
  for (const auto& c : table["frame_skipper"]["patterns"]) {
    runtime::FrameSkipConfig config;
    config.target_fps = optional_number(c["target"]);
    config.adaptation_cooldown = 0.0;
    const double ingress = c["ingress"].get<double>();
    runtime::AdaptiveFrameSkipper skipper(config, [ingress] { return ingress; });
    std::string letters;
    for (int i = 0; i < c["frames"].get<int>(); ++i) letters += skipper.should_process() ? 'P' : 'S';
    BOOST_TEST_CONTEXT(c.dump()) {
      BOOST_TEST(letters == c["pattern"].get<std::string>());
      BOOST_TEST(skipper.skip_interval() == c["interval"].get<int>());
    }
  }
}

BOOST_AUTO_TEST_CASE(frame_skipper_trims) {
  const util::Json table = rules_table();
  BOOST_REQUIRE(!table["frame_skipper"]["trims"].empty());
  for (const auto& c : table["frame_skipper"]["trims"]) {
    runtime::FrameSkipConfig config;
    config.max_queue_size = c["max_queue_size"].get<std::size_t>();
    config.max_cleanup_frames = c["max_cleanup_frames"].get<std::size_t>();
    runtime::AdaptiveFrameSkipper skipper(config, [] { return 0.0; });
    BOOST_TEST_CONTEXT(c.dump()) {
      BOOST_TEST(skipper.frames_to_trim(c["queued"].get<std::size_t>()) == c["dropped"].get<std::size_t>());
    }
  }
}

BOOST_AUTO_TEST_CASE(overlay_steps) {
  const media::DecodedVideoFrame original = frame_with_pts(1);
  const media::DecodedVideoFrame processed = frame_with_pts(2);
  const util::Json table = rules_table();
  BOOST_REQUIRE(!table["overlay"].empty());
  for (const auto& c : table["overlay"]) {
    runtime::OverlayController controller(overlay_config(c["config"]));
    int index = 0;
    for (const auto& step : c["steps"]) {
      const std::string kind = step[0].get<std::string>();
      BOOST_TEST_CONTEXT(c["name"].get<std::string>() << " step " << index++ << " (" << kind << ")") {
        if (kind == "processed" || kind == "none") {
          auto out = controller.update_and_apply(
              original, kind == "processed" ? std::optional<media::DecodedVideoFrame>(processed) : std::nullopt);
          std::string got = "nothing";
          if (out && out->tensor.data() == original.tensor.data())
            got = "original";
          else if (out && out->tensor.data() == processed.tensor.data())
            got = "processed";
          else if (out)
            got = "overlay";
          BOOST_TEST(got == step[1].get<std::string>());
        } else if (kind == "manual_on" || kind == "manual_off") {
          controller.set_manual_loading(kind == "manual_on");
        } else {
          BOOST_TEST(controller.should_skip_processing() == step[1].get<bool>());
        }
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
