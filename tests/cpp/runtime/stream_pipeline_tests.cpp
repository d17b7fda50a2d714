// One stream through the real relay, in process: segments of a generated clip published to
// channel `in`, the pipeline decoding, processing, encoding and publishing to `out`, a subscriber
// collecting `out`. Then the same with broken input and misbehaving processors: each stream must
// report, go on or end cleanly, and wind down.

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <pthread.h>

#include <boost/test/unit_test.hpp>

#include "../media/media_test_support.hpp"
#include "../protocol/relay_test_support.hpp"
#include "trickle/runtime/stream_pipeline.hpp"

using namespace trickle;
using namespace trickle::test;
using namespace std::chrono_literals;

namespace {

class Passthrough : public runtime::FrameProcessor {
 public:
  std::optional<runtime::VideoFrame> process_video(runtime::VideoFrame frame) override {
    if (video_frames++ == 0) {
      char name[16] = {};
      pthread_getname_np(pthread_self(), name, sizeof name);
      thread_name = name;
    }
    return frame;
  }
  void update_params(const util::Json& params) override {
    std::lock_guard lock(mutex);
    received_params.push_back(params);
  }
  void on_stream_start(const util::Json& params) override { start_params = params; }
  void on_stream_stop() override { stopped = true; }

  std::atomic<int> video_frames{0};
  std::mutex mutex;
  std::vector<util::Json> received_params;
  util::Json start_params;
  std::atomic<bool> stopped{false};
  std::string thread_name;  // of the thread that called process_video first
};

// The clip cut into one segment per GOP, as `trickle publish` sends it.
const std::vector<Bytes>& clip_segments() {
  static const std::vector<Bytes> segments = [] {
    RecordingSink sink;
    auto result = segment_file(clips().video_audio, sink);
    BOOST_REQUIRE(result);
    std::vector<Bytes> out;
    for (auto& s : sink.segments) out.push_back(s.bytes);
    return out;
  }();
  return segments;
}

struct StreamRun {
  Bytes output;
  util::Json stats;
  std::vector<std::string> errors;
  bool finished = false;
};

// Publishes `input` (one element per segment) into `in`, runs the pipeline until it ends by
// itself, and collects what it published into `out`.
StreamRun run_stream(std::shared_ptr<runtime::FrameProcessor> processor, std::vector<Bytes> input,
                     std::function<void(runtime::StreamPipelineOptions&)> adjust = {},
                     std::function<void(std::shared_ptr<runtime::StreamPipeline>)> started = {}) {
  StreamRun run;
  run_async(
      [&]() -> net::awaitable<void> {
        auto executor = co_await asio::this_coro::executor;
        TestRelay relay(executor);
        relay.server.create_channel("in", "video/mp2t");
        relay.server.create_channel("out", "video/mp2t");
        runtime::StreamPipelineOptions options;
        options.subscribe_url = relay.url("in");
        options.publish_url = relay.url("out");
        options.subscribe_start_seq = 0;
        options.max_framerate = 60;  // the clip is 30 fps: no frame is thinned out
        // The input arrives as fast as the relay can send it, not in real time: let frames queue
        // instead of trimming the backlog, so every count is exact.
        options.frame_skip.max_queue_size = 100000;
        options.video_queue_size = options.audio_queue_size = 100000;
        if (adjust) adjust(options);
        auto pipeline = std::make_shared<runtime::StreamPipeline>(
            executor, processor, options,
            [&](std::string_view kind, std::string_view) { run.errors.emplace_back(kind); });
        pipeline->start();
        if (started) started(pipeline);

        TaskGroup tasks(executor);
        // Named, so the coroutine's captures outlive the statement that starts it.
        auto collect_output = [&]() -> net::awaitable<void> {
          protocol::TrickleSubscriber subscriber(executor, relay.url("out"), {.start_seq = 0});
          while (auto segment = co_await subscriber.next()) {
            auto bytes = co_await read_all(*segment);
            run.output.insert(run.output.end(), bytes.begin(), bytes.end());
          }
        };
        tasks.spawn(collect_output());
        protocol::TricklePublisher publisher(executor, relay.url("in"), {.mime_type = "video/mp2t"});
        for (const auto& segment : input) {
          auto writer = co_await publisher.next();
          co_await writer->write(segment);
          co_await writer->close();
        }
        co_await publisher.close();
        co_await publisher.delete_channel();
        co_await pipeline->wait_finished();
        run.finished = true;
        run.stats = pipeline->stats();
        co_await tasks.wait();
      },
      60s);
  return run;
}

std::int64_t stat(const util::Json& stats, const char* group, const char* name) {
  return stats[group][name].get<std::int64_t>();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(stream_pipeline)

BOOST_AUTO_TEST_CASE(passthrough_publishes_every_frame_with_its_timestamp) {
  auto processor = std::make_shared<Passthrough>();
  auto run = run_stream(processor, clip_segments(),
                        [](runtime::StreamPipelineOptions& o) { o.start_params = util::Json{{"k", "v"}}; });
  BOOST_REQUIRE(run.finished);
  TempDir dir;
  write_bytes(dir.path() / "out.ts", run.output);
  const auto input = summarize(clips().video_audio);
  const auto output = summarize(dir.path() / "out.ts");
  BOOST_TEST_MESSAGE("stats: " << util::python_json_dumps(run.stats));
  BOOST_TEST(output.video_frame_hashes.size() == input.video_frame_hashes.size());
  BOOST_TEST(processor->video_frames.load() == static_cast<int>(input.video_frame_hashes.size()));
  BOOST_TEST(output.audio_frames > 0);
  // Presentation times survive: same first pts and same spacing (MPEG-TS 1/90000 both sides).
  auto pts_of = [](const MediaSummary& s) {
    std::vector<std::int64_t> pts;
    for (auto& p : s.packets_of(AVMEDIA_TYPE_VIDEO)) pts.push_back(av_rescale_q(p.pts, p.time_base, {1, 90000}));
    std::sort(pts.begin(), pts.end());
    return pts;
  };
  BOOST_TEST(pts_of(output) == pts_of(input), boost::test_tools::per_element());
  BOOST_TEST(stat(run.stats, "encoder", "segments") >= 2);  // 5 s with 2 s GOPs
  BOOST_TEST(processor->start_params == (util::Json{{"k", "v"}}));
  BOOST_TEST(processor->stopped.load());
  BOOST_TEST((run.errors == std::vector<std::string>{"subscription_ended"}));
  // Named for `top -H` and perf: the stage a busy thread belongs to is visible from outside.
  BOOST_TEST(processor->thread_name == "trk-process");
}

// The Python package's mode: no processing thread; an owner thread takes the decoded frames when
// told there may be some and hands results back, waiting only while the encoder is full.
BOOST_AUTO_TEST_CASE(external_processing_hands_every_frame_to_the_owner_and_back) {
  std::mutex mutex;
  std::condition_variable wake;
  int wakeups = 0;
  std::atomic<int> video_taken{0}, audio_taken{0}, full_waits{0};
  std::thread owner;
  auto run = run_stream(
      nullptr, clip_segments(),
      [&](runtime::StreamPipelineOptions& o) {
        o.external_processing = true;
        o.output_queue_size = 2;  // small, so the owner meets a full encoder queue
        o.on_input_ready = [&] {
          {
            std::lock_guard lock(mutex);
            ++wakeups;
          }
          wake.notify_one();
        };
      },
      [&](std::shared_ptr<runtime::StreamPipeline> pipeline) {
        owner = std::thread([&, pipeline] {
          for (;;) {
            bool ended = false;
            auto item = pipeline->try_pop_input(&ended);
            if (!item) {
              if (ended) break;
              std::unique_lock lock(mutex);
              wake.wait_for(lock, 50ms, [&] { return wakeups > 0; });
              wakeups = 0;
              continue;
            }
            auto hand_back = [&](auto& frame) {
              while (!pipeline->push_output(frame)) {
                if (pipeline->output_closed()) return;
                ++full_waits;
                pipeline->wait_output_room();
              }
            };
            if (auto* video = std::get_if<runtime::VideoFrame>(&*item)) {
              ++video_taken;
              hand_back(*video);
            } else if (auto* audio = std::get_if<runtime::AudioFrame>(&*item)) {
              ++audio_taken;
              hand_back(*audio);
            }
          }
          pipeline->finish_output();
        });
      });
  if (owner.joinable()) owner.join();
  BOOST_REQUIRE(run.finished);
  TempDir dir;
  write_bytes(dir.path() / "out.ts", run.output);
  const auto input = summarize(clips().video_audio);
  const auto output = summarize(dir.path() / "out.ts");
  BOOST_TEST(video_taken.load() == static_cast<int>(input.video_frame_hashes.size()));
  BOOST_TEST(output.video_frame_hashes.size() == input.video_frame_hashes.size());
  BOOST_TEST(audio_taken.load() > 0);
  BOOST_TEST(output.audio_frames > 0);
  BOOST_TEST(full_waits.load() > 0);  // the owner did wait for the encoder at least once
  BOOST_TEST(stat(run.stats, "processor", "video_processed") == video_taken.load());
  BOOST_TEST(run.stats["latency_ms"]["demux_to_encoded"]["count"].get<std::int64_t>() == video_taken.load());
}

BOOST_AUTO_TEST_CASE(garbage_input_ends_the_stream_with_a_decode_error) {
  auto processor = std::make_shared<Passthrough>();
  auto run = run_stream(processor, {random_bytes(64 * 1024, 1), random_bytes(64 * 1024, 2)});
  BOOST_REQUIRE(run.finished);
  BOOST_TEST(run.output.empty());
  BOOST_TEST(processor->video_frames.load() == 0);
  BOOST_TEST(std::count(run.errors.begin(), run.errors.end(), "decode_error") == 1);
  BOOST_TEST(processor->stopped.load());
}

BOOST_AUTO_TEST_CASE(a_cut_segment_and_a_foreign_segment_cost_only_their_frames) {
  auto segments = clip_segments();
  BOOST_REQUIRE(segments.size() >= 3);
  std::vector<Bytes> input;
  input.push_back(segments[0]);
  const std::string json = R"({"not": "video"})";
  input.emplace_back(json.begin(), json.end());
  input.push_back(
      Bytes(segments[1].begin(), segments[1].begin() + static_cast<std::ptrdiff_t>(segments[1].size() / 2)));
  for (std::size_t i = 2; i < segments.size(); ++i) input.push_back(segments[i]);
  auto processor = std::make_shared<Passthrough>();
  auto run = run_stream(processor, input);
  BOOST_REQUIRE(run.finished);
  TempDir dir;
  write_bytes(dir.path() / "out.ts", run.output);
  const auto total = summarize(clips().video_audio).video_frame_hashes.size();
  const auto out = summarize(dir.path() / "out.ts").video_frame_hashes.size();
  BOOST_TEST_MESSAGE("frames in " << total << ", out " << out);
  BOOST_TEST(out > total / 2);  // first and last segments whole, the cut one partly
  BOOST_TEST(out < total);
}

class Throwing : public Passthrough {
 public:
  std::optional<runtime::VideoFrame> process_video(runtime::VideoFrame frame) override {
    if (++calls % 2 == 0) throw std::runtime_error("model exploded");
    return frame;
  }
  std::vector<runtime::AudioFrame> process_audio(runtime::AudioFrame) override {
    throw std::runtime_error("no audio today");
  }
  int calls = 0;
};

BOOST_AUTO_TEST_CASE(a_throwing_processor_loses_those_frames_only) {
  auto processor = std::make_shared<Throwing>();
  auto run = run_stream(processor, clip_segments());
  BOOST_REQUIRE(run.finished);
  const auto total = static_cast<std::int64_t>(summarize(clips().video_audio).video_frame_hashes.size());
  BOOST_TEST(stat(run.stats, "processor", "video_errors") == total / 2);
  BOOST_TEST(stat(run.stats, "processor", "audio_errors") > 0);
  TempDir dir;
  write_bytes(dir.path() / "out.ts", run.output);
  auto out = summarize(dir.path() / "out.ts");
  BOOST_TEST(static_cast<std::int64_t>(out.video_frame_hashes.size()) == total - total / 2);
  BOOST_TEST(out.audio_frames == 0);
}

class Misshapen : public Passthrough {
 public:
  std::optional<runtime::VideoFrame> process_video(runtime::VideoFrame frame) override {
    ++calls;
    if (calls == 2) frame.tensor = tensor::Tensor::zeros({1, 0, 0, 3}, tensor::DType::float32);    // nothing to show
    if (calls == 3) frame.tensor = tensor::Tensor::zeros({1, 77, 55, 3}, tensor::DType::float32);  // odd, other size
    if (calls == 4) frame.tensor = tensor::Tensor();                                               // no tensor at all
    if (calls == 5) frame.tensor = tensor::Tensor::zeros({5, 5}, tensor::DType::float32);          // not a picture
    return frame;
  }
  int calls = 0;
};

BOOST_AUTO_TEST_CASE(unusable_frames_from_the_processor_are_dropped_and_counted) {
  auto processor = std::make_shared<Misshapen>();
  auto run = run_stream(processor, clip_segments());
  BOOST_REQUIRE(run.finished);
  BOOST_TEST_MESSAGE("stats: " << util::python_json_dumps(run.stats));
  BOOST_TEST(stat(run.stats, "encoder", "video_dropped_invalid") == 3);
  BOOST_TEST(stat(run.stats, "encoder", "video_frames_encoded") == stat(run.stats, "processor", "video_processed") - 3);
  TempDir dir;
  write_bytes(dir.path() / "out.ts", run.output);
  BOOST_TEST(summarize(dir.path() / "out.ts").video_frame_hashes.size() > 100u);
}

BOOST_AUTO_TEST_CASE(stop_ends_a_live_stream_quickly) {
  run_async(
      [&]() -> net::awaitable<void> {
        auto executor = co_await asio::this_coro::executor;
        TestRelay relay(executor);
        relay.server.create_channel("in", "video/mp2t");
        relay.server.create_channel("out", "video/mp2t");
        auto processor = std::make_shared<Passthrough>();
        runtime::StreamPipelineOptions options;
        options.subscribe_url = relay.url("in");
        options.publish_url = relay.url("out");
        options.subscribe_start_seq = 0;
        auto pipeline = std::make_shared<runtime::StreamPipeline>(executor, processor, options);
        pipeline->start();
        // The input stays open (one segment, no end): the pipeline waits for more.
        protocol::TricklePublisher publisher(executor, relay.url("in"), {.mime_type = "video/mp2t"});
        auto writer = co_await publisher.next();
        co_await writer->write(clip_segments()[0]);
        co_await writer->close();
        const bool flowing = co_await eventually([&] { return processor->video_frames.load() > 10; });
        BOOST_REQUIRE(flowing);
        BOOST_TEST(pipeline->running());
        const auto stop_at = net::Clock::now();
        pipeline->stop();
        co_await pipeline->wait_finished();
        const auto took = net::Clock::now() - stop_at;
        BOOST_TEST_MESSAGE("stopped in " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                                         << " ms");
        BOOST_TEST((took < 2s));
        BOOST_TEST(!pipeline->running());
        BOOST_TEST(processor->stopped.load());
        co_await publisher.close();
      },
      30s);
}

BOOST_AUTO_TEST_CASE(control_events_and_data_channels_carry_their_messages) {
  run_async(
      [&]() -> net::awaitable<void> {
        auto executor = co_await asio::this_coro::executor;
        TestRelay relay(executor);
        for (const char* name : {"control", "events", "data"}) relay.server.create_channel(name);
        auto processor = std::make_shared<Passthrough>();
        runtime::StreamPipelineOptions options;
        options.control_url = relay.url("control");
        options.events_url = relay.url("events");
        options.data_url = relay.url("data");
        options.send_data_interval = 0.05;
        auto pipeline = std::make_shared<runtime::StreamPipeline>(executor, processor, options);
        pipeline->start();

        auto text_of = [](const Bytes& bytes) { return std::string(bytes.begin(), bytes.end()); };

        // Events: a heartbeat at once, in upstream's envelope.
        protocol::TrickleSubscriber events(executor, relay.url("events"), {.start_seq = 0});
        auto first = co_await events.next();
        BOOST_REQUIRE(first);
        auto first_body = co_await read_all(*first);
        auto heartbeat = util::python_json_loads(text_of(first_body));
        BOOST_REQUIRE(heartbeat);
        BOOST_TEST((*heartbeat)["queue_event_type"] == "stream_heartbeat");
        BOOST_TEST((*heartbeat)["event"]["type"] == "heartbeat");
        BOOST_TEST((*heartbeat)["event"]["dimensions"] == (util::Json{{"width", 512}, {"height", 512}}));
        BOOST_TEST((*heartbeat)["event"]["urls"]["control"] == relay.url("control"));
        BOOST_TEST((*heartbeat)["event"]["fps"].size() == 4u);
        pipeline->emit_event(util::Json{{"type", "custom"}}, "custom_monitoring_event");
        auto second = co_await events.next();
        BOOST_REQUIRE(second);
        auto second_body = co_await read_all(*second);
        BOOST_TEST(text_of(second_body) ==
                   R"({"event": {"type": "custom"}, "queue_event_type": "custom_monitoring_event"})");

        // Control: keep-alives and non-JSON are skipped, objects reach the processor. The pipeline
        // joins the channel at its live edge, so the messages are repeated until it has joined.
        protocol::TricklePublisher control(executor, relay.url("control"), {.mime_type = "application/json"});
        auto send = [&](std::string text) -> net::awaitable<void> {
          auto writer = co_await control.next();
          co_await writer->write(std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
          co_await writer->close();
        };
        auto received = [&] {
          std::lock_guard lock(processor->mutex);
          return !processor->received_params.empty();
        };
        for (int attempt = 0; attempt < 50 && !received(); ++attempt) {
          co_await send(R"({"keep": "alive"})");
          co_await send("not json {");
          co_await send(R"({"max_framerate": 30, "prompt": "x"})");
          co_await eventually(received, 100ms);
        }
        BOOST_REQUIRE(received());
        {
          std::lock_guard lock(processor->mutex);
          for (auto& params : processor->received_params) {
            BOOST_TEST(params == (util::Json{{"max_framerate", 30}, {"prompt", "x"}}));
          }
        }

        // Data: items gathered for send_data_interval, posted as one JSON array line.
        protocol::TrickleSubscriber data(executor, relay.url("data"), {.start_seq = 0});
        pipeline->publish_data("hello");
        pipeline->publish_data("w\"orld");
        auto line = co_await data.next();
        BOOST_REQUIRE(line);
        auto line_body = co_await read_all(*line);
        BOOST_TEST(text_of(line_body) == "[\"hello\", \"w\\\"orld\"]\n");

        pipeline->stop();
        co_await pipeline->wait_finished();
        co_await control.close();
      },
      30s);
}

BOOST_AUTO_TEST_SUITE_END()
