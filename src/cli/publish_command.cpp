#include <deque>
#include <fstream>
#include <variant>

#include <spdlog/spdlog.h>

extern "C" {
#include <libavformat/avformat.h>
}

#include "commands.hpp"
#include "trickle/util/tls_client_flags.hpp"
#include "trickle/media/packet_reader.hpp"
#include "trickle/media/segment_muxer.hpp"
#include "trickle/protocol/publisher.hpp"

namespace trickle::cli {

namespace {
struct PublishArgs {
  std::string url;
  std::string file;
  bool realtime = false;
  // Multiple of real time for --realtime pacing: benchmarks feed a worker faster than the
  // media's own rate to find its sustained throughput with the same per-GOP POST pattern.
  double speed = 1.0;
  bool keep_open = false;
  std::string tee;
  std::string mime_type = "video/mp2t";
  net::TlsClientOptions tls;
};

// The muxer calls back synchronously; the POSTs are asynchronous. So the sink only queues what
// happened, and the publishing coroutine drains the queue after each packet.
class QueueingSink final : public media::SegmentSink {
 public:
  struct Begin {
    std::int64_t index;
  };
  struct Data {
    std::vector<std::uint8_t> bytes;
  };
  struct End {
    std::int64_t index;
  };
  using Event = std::variant<Begin, Data, End>;

  void on_segment_begin(int64_t index) override { events.emplace_back(Begin{index}); }
  void on_segment_data(std::span<const uint8_t> bytes) override {
    events.emplace_back(Data{std::vector<std::uint8_t>(bytes.begin(), bytes.end())});
  }
  void on_segment_end(int64_t index) override { events.emplace_back(End{index}); }

  std::deque<Event> events;
};

struct Publishing {
  protocol::TricklePublisher& publisher;
  std::ofstream* tee;
  std::shared_ptr<protocol::SegmentWriter> writer;
  std::int64_t segment_bytes = 0, total_bytes = 0, segments = 0;
  bool failed = false;

  net::awaitable<void> drain(QueueingSink& sink) {
    while (!sink.events.empty()) {
      auto event = std::move(sink.events.front());
      sink.events.pop_front();
      if (std::holds_alternative<QueueingSink::Begin>(event)) {
        writer = co_await publisher.next();
        segment_bytes = 0;
      } else if (auto* data = std::get_if<QueueingSink::Data>(&event)) {
        if (tee)
          tee->write(reinterpret_cast<const char*>(data->bytes.data()),
                     static_cast<std::streamsize>(data->bytes.size()));
        if (writer) {
          bool written = co_await writer->write(data->bytes);
          if (!written) failed = true;
        }
        segment_bytes += static_cast<std::int64_t>(data->bytes.size());
      } else if (writer) {
        bool ok = co_await writer->close();
        spdlog::info("segment {}: {} bytes{}", writer->seq(), segment_bytes, ok ? "" : " (not accepted)");
        if (!ok) failed = true;
        total_bytes += segment_bytes;
        ++segments;
        writer.reset();
      }
    }
  }
};

net::awaitable<int> publish(const PublishArgs& args) {
  auto executor = co_await asio::this_coro::executor;
  auto reader = media::PacketReader::open(args.file);
  if (!reader) {
    spdlog::error("cannot read {}: {}", args.file, reader.error().message);
    co_return 2;
  }
  QueueingSink sink;
  auto muxer = media::SegmentMuxer::create(reader->format_context(), sink);
  if (!muxer) {
    spdlog::error("cannot segment {}: {}", args.file, muxer.error().message);
    co_return 2;
  }
  std::ofstream tee;
  if (!args.tee.empty()) {
    tee.open(args.tee, std::ios::binary | std::ios::trunc);
    if (!tee) {
      spdlog::error("cannot write {}", args.tee);
      co_return 2;
    }
  }
  protocol::PublisherOptions options;
  options.mime_type = args.mime_type;
  options.tls = args.tls;
  util::log_tls_choice(args.url, args.tls);
  protocol::TricklePublisher publisher(executor, args.url, options);
  Publishing out{publisher, args.tee.empty() ? nullptr : &tee, nullptr};

  // --realtime paces by decode timestamps (they never go backwards in file order), compressed
  // by --speed.
  std::optional<double> first_time;
  auto start = net::Clock::now();
  asio::steady_timer pacing(executor);
  for (;;) {
    auto packet = reader->read_packet();
    if (!packet) {
      spdlog::error("reading {}: {}", args.file, packet.error().message);
      break;
    }
    if (!*packet) break;
    const AVPacket& pkt = ***packet;
    if (args.realtime) {
      const AVStream* stream = reader->stream(pkt.stream_index);
      if (auto t = stream ? media::packet_decode_time_seconds(pkt, stream->time_base) : std::nullopt) {
        if (!first_time) first_time = *t;
        auto due = start + std::chrono::duration_cast<net::Clock::duration>(
                               std::chrono::duration<double>((*t - *first_time) / args.speed));
        if (due > net::Clock::now()) {
          pacing.expires_at(due);
          co_await pacing.async_wait(net::use_nothrow);
        }
      }
    }
    if (auto written = muxer->write(pkt, pkt.stream_index); !written) {
      spdlog::error("muxing {}: {}", args.file, written.error().message);
      break;
    }
    co_await out.drain(sink);
  }
  if (auto finished = muxer->finish(); !finished) spdlog::error("finishing: {}", finished.error().message);
  co_await out.drain(sink);
  if (args.keep_open) {
    co_await publisher.close_leaving_channel_open();
  } else if (!co_await publisher.close_and_delete_channel()) {
    spdlog::warn("could not close channel {}", args.url);
  }
  spdlog::info("published {} segments, {} bytes", out.segments, out.total_bytes);
  co_return out.failed ? 1 : 0;
}

int run_publish(const PublishArgs& args) {
  asio::io_context io(1);
  int status = 1;
  // The command is over when its coroutine is: stop the loop even if a signal wait or a
  // connection being torn down still holds it.
  asio::co_spawn(io, publish(args), [&](std::exception_ptr e, int result) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("{}", ex.what());
      }
      status = 1;
    } else {
      status = result;
    }
    io.stop();
  });
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const std::error_code& ec, int) {
    if (!ec) io.stop();
  });
  io.run();
  return status;
}
}  // namespace

void add_publish_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<PublishArgs>();
  auto* cmd = app.add_subcommand("publish", "Publish a media file, one MPEG-TS segment per GOP");
  cmd->add_option("url", args->url, "Channel URL, e.g. http://127.0.0.1:3389/mystream")->required();
  cmd->add_option("file", args->file, "Input file (MPEG-TS or anything FFmpeg reads)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_flag("--realtime", args->realtime, "Send at the pace of the media timestamps");
  cmd->add_option("--speed", args->speed, "With --realtime, pace at this multiple of real time")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--tee", args->tee, "Also write the published bytes, back to back, to this file");
  cmd->add_flag("--keep-open", args->keep_open, "Do not DELETE the channel when the file ends");
  cmd->add_option("--mime-type", args->mime_type, "Content-Type of the segments")->capture_default_str();
  util::add_tls_client_flags(*cmd, args->tls);
  cmd->callback([args, &exit_code] { exit_code = run_publish(*args); });
}

}  // namespace trickle::cli
