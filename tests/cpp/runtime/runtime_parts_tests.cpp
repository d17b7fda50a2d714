// The runtime's small parts against upstream PyTrickle's rules (its frame_skipper, frame_overlay and fps_meter).

#include <thread>

#include <boost/test/unit_test.hpp>

#include "trickle/runtime/bounded_queue.hpp"
#include "trickle/runtime/fps_meter.hpp"
#include "trickle/runtime/frame_skipper.hpp"
#include "trickle/runtime/latency_histogram.hpp"
#include "trickle/runtime/loading_overlay.hpp"
#include "trickle/runtime/processor_inbox.hpp"

using namespace trickle;
using namespace std::chrono_literals;
using Shape = trickle::tensor::Tensor::Shape;

namespace {
runtime::VideoFrame frame_at(std::int64_t pts, Shape shape = {1, 8, 8, 3}) {
  return runtime::VideoFrame{tensor::Tensor::zeros(std::move(shape), tensor::DType::float32), pts, {1, 90000}, {}};
}
runtime::AudioFrame audio_at(std::int64_t pts) {
  runtime::AudioFrame a;
  a.pts = pts;
  a.samples = tensor::Tensor::zeros({1, 960}, tensor::DType::float32);
  return a;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(runtime_parts)

// Patterns and trims: upstream_rules_tests.cpp (tests/upstream_rules.json). Here: changing the target.
BOOST_AUTO_TEST_CASE(frame_skipper_target_changes) {
  double ingress = 30.0;
  runtime::FrameSkipConfig config;
  config.target_fps = 10.0;
  config.adaptation_cooldown = 60.0;  // only set_target_fps re-adapts within the test
  runtime::AdaptiveFrameSkipper skipper(config, [&] { return ingress; });
  BOOST_TEST(skipper.skip_interval() == 1);  // nothing decided before the cooldown
  BOOST_TEST(skipper.set_target_fps(15.0));  // re-adapts at once: 30 / 15
  BOOST_TEST(skipper.skip_interval() == 2);
  BOOST_TEST(*skipper.config().target_fps == 15.0);
  // Invalid targets are refused and change nothing.
  BOOST_TEST(!skipper.set_target_fps(0.0));
  BOOST_TEST(!skipper.set_target_fps(-3.0));
  BOOST_TEST(skipper.skip_interval() == 2);
  BOOST_TEST(*skipper.config().target_fps == 15.0);
  // None follows the ingress rate: no ratio skipping.
  BOOST_TEST(skipper.set_target_fps(std::nullopt));
  BOOST_TEST(skipper.skip_interval() == 1);
  BOOST_TEST(!skipper.config().target_fps.has_value());
  skipper.set_target_fps(10.0);
  BOOST_TEST(skipper.skip_interval() == 3);
  skipper.reset();
  BOOST_TEST(skipper.skip_interval() == 1);
  BOOST_TEST(skipper.should_process());  // the first frame after a reset is always processed
}

BOOST_AUTO_TEST_CASE(fps_meter_counts_over_its_window) {
  runtime::FpsMeter meter(10.0, 600);
  BOOST_TEST(meter.fps(runtime::FpsMeter::Direction::ingress_video) == 0.0);
  meter.record(runtime::FpsMeter::Direction::ingress_video);
  BOOST_TEST(meter.fps(runtime::FpsMeter::Direction::ingress_video) == 0.0);  // one sample: no rate
  for (int i = 0; i < 10; ++i) {
    std::this_thread::sleep_for(10ms);
    meter.record(runtime::FpsMeter::Direction::ingress_video);
  }
  const double fps = meter.fps(runtime::FpsMeter::Direction::ingress_video);
  BOOST_TEST(fps > 20.0);  // 10 intervals of >= 10 ms: at most 100 fps
  BOOST_TEST(fps <= 100.0);
  auto stats = meter.stats();
  BOOST_TEST(stats.size() == 4u);
  BOOST_TEST(stats["egress_audio_fps"].get<double>() == 0.0);
  meter.reset();
  BOOST_TEST(meter.fps(runtime::FpsMeter::Direction::ingress_video) == 0.0);
  // The window forgets old samples.
  runtime::FpsMeter short_window(0.05, 600);
  short_window.record(runtime::FpsMeter::Direction::egress_video);
  short_window.record(runtime::FpsMeter::Direction::egress_video);
  std::this_thread::sleep_for(80ms);
  BOOST_TEST(short_window.fps(runtime::FpsMeter::Direction::egress_video) == 0.0);
}

BOOST_AUTO_TEST_CASE(overlay_forwards_then_covers_then_recovers) {
  runtime::OverlayConfig config;
  config.auto_timeout_seconds = 0.05;
  runtime::OverlayController overlay(config);
  const auto original = frame_at(3000, {1, 120, 160, 3});
  // Nothing processed yet, timeout not reached: the original goes out.
  auto out = overlay.update_and_apply(original, std::nullopt);
  BOOST_REQUIRE(out);
  BOOST_TEST(out->tensor.data() == original.tensor.data());
  std::this_thread::sleep_for(70ms);
  // Past the timeout: the loading card, [H, W, 3] float at the original's time.
  out = overlay.update_and_apply(original, std::nullopt);
  BOOST_REQUIRE(out);
  BOOST_TEST(overlay.loading_active());
  BOOST_TEST((out->tensor.shape() == Shape{120, 160, 3}));
  BOOST_TEST(out->pts == 3000);
  BOOST_TEST(out->tensor.data_as<float>()[0] == 30.0f / 255.0f);  // background
  // The first processed frame turns it off and is what goes out.
  auto processed = frame_at(6000, {1, 120, 160, 3});
  out = overlay.update_and_apply(original, processed);
  BOOST_REQUIRE(out);
  BOOST_TEST(!overlay.loading_active());
  BOOST_TEST(out->pts == 6000);
  // Manual loading: the processor is skipped and the card shows until switched off.
  overlay.set_manual_loading(true);
  BOOST_TEST(overlay.should_skip_processing());
  out = overlay.update_and_apply(original, std::nullopt);
  BOOST_TEST((out && out->tensor.dim() == 3));
  overlay.set_manual_loading(false);
  BOOST_TEST(!overlay.should_skip_processing());
  // Disabled or passthrough: None means no frame.
  config.mode = runtime::OverlayMode::passthrough;
  overlay.apply_config(config);
  BOOST_TEST(!overlay.update_and_apply(original, std::nullopt).has_value());
  BOOST_TEST(!overlay.should_skip_processing());
}

BOOST_AUTO_TEST_CASE(overlay_card_refuses_sizes_it_cannot_draw) {
  BOOST_TEST(!runtime::render_loading_overlay(frame_at(0, {8}), 0, std::nullopt).has_value());
  BOOST_TEST(!runtime::render_loading_overlay(frame_at(0, {1, 0, 8, 3}), 0, std::nullopt).has_value());
  BOOST_TEST(!runtime::render_loading_overlay(frame_at(0), 0, 1.5).has_value());
  // CHW-looking input (first dim 3) is read as upstream reads it.
  auto chw = runtime::render_loading_overlay(frame_at(0, {3, 40, 60}), 0, 0.5);
  BOOST_REQUIRE(chw);
  BOOST_TEST((chw->tensor.shape() == Shape{40, 60, 3}));
}

BOOST_AUTO_TEST_CASE(inbox_orders_params_first_then_frames_by_arrival) {
  runtime::ProcessorInbox inbox(4, 2, [](std::size_t queued) { return queued > 3 ? queued - 3 : 0; });
  inbox.push_video(frame_at(1));
  inbox.push_audio(audio_at(2));
  inbox.push_video(frame_at(3));
  inbox.push_params(runtime::ParamsUpdate{util::Json{{"a", 1}}, {}});
  auto first = inbox.pop();
  BOOST_REQUIRE(first);
  BOOST_TEST(std::holds_alternative<runtime::ParamsUpdate>(*first));
  BOOST_TEST(std::get<runtime::VideoFrame>(*inbox.pop()).pts == 1);
  BOOST_TEST(std::get<runtime::AudioFrame>(*inbox.pop()).pts == 2);
  BOOST_TEST(std::get<runtime::VideoFrame>(*inbox.pop()).pts == 3);
  // Hard caps drop the oldest; the trim rule trims the video backlog when taking.
  for (int i = 10; i < 16; ++i) inbox.push_video(frame_at(i));
  for (int i = 20; i < 23; ++i) inbox.push_audio(audio_at(i));
  auto counters = inbox.counters();
  BOOST_TEST(counters.video_dropped_full == 2);
  BOOST_TEST(counters.audio_dropped_full == 1);
  BOOST_TEST(std::get<runtime::VideoFrame>(*inbox.pop()).pts == 13);  // 12..15 queued, trimmed to 3
  BOOST_TEST(inbox.counters().video_trimmed == 1);
  // abort forgets frames but still hands out params; then ends.
  inbox.push_params(runtime::ParamsUpdate{util::Json{{"b", 2}}, {}});
  inbox.abort();
  inbox.push_video(frame_at(99));
  BOOST_TEST(std::holds_alternative<runtime::ParamsUpdate>(*inbox.pop()));
  BOOST_TEST(!inbox.pop().has_value());
  BOOST_TEST(inbox.counters().dropped_at_stop == 5);  // 2 video + 2 audio queued, 1 pushed late
}

BOOST_AUTO_TEST_CASE(inbox_close_drains_and_wakes_a_waiting_consumer) {
  runtime::ProcessorInbox inbox(8, 8, {});
  std::thread consumer([&] {
    int frames = 0;
    while (auto item = inbox.pop()) frames += std::holds_alternative<runtime::VideoFrame>(*item);
    BOOST_TEST(frames == 2);
  });
  inbox.push_video(frame_at(1));
  inbox.push_video(frame_at(2));
  inbox.close();
  consumer.join();
}

BOOST_AUTO_TEST_CASE(bounded_queue_drops_oldest_and_counts) {
  runtime::BoundedQueue<int> queue(2);
  BOOST_TEST(queue.push(1));
  BOOST_TEST(queue.push(2));
  BOOST_TEST(queue.push(3));
  BOOST_TEST(queue.dropped() == 1);
  BOOST_TEST(*queue.pop() == 2);
  queue.close();
  BOOST_TEST(!queue.push(4));
  BOOST_TEST(*queue.pop() == 3);
  BOOST_TEST(!queue.pop().has_value());
}

BOOST_AUTO_TEST_CASE(latency_histogram_percentiles_by_nearest_rank) {
  runtime::LatencyHistogram histogram(100);
  for (int ms = 1; ms <= 100; ++ms) histogram.record(std::chrono::milliseconds(ms));
  auto s = histogram.summary();
  BOOST_TEST(s.count == 100);
  BOOST_TEST(s.p50_ms == 50.0);
  BOOST_TEST(s.p99_ms == 99.0);
  BOOST_TEST(s.max_ms == 100.0);
  // The window keeps the newest samples only.
  for (int i = 0; i < 100; ++i) histogram.record(std::chrono::milliseconds(1));
  s = histogram.summary();
  BOOST_TEST(s.count == 200);
  BOOST_TEST(s.max_ms == 1.0);
}

BOOST_AUTO_TEST_SUITE_END()
