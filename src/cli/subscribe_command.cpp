#include <cstdio>
#include <fstream>
#include <iostream>

#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "trickle/util/tls_client_flags.hpp"
#include "trickle/protocol/subscriber.hpp"

namespace trickle::cli {

namespace {
struct SubscribeArgs {
  std::string url;
  std::string out = "-";
  std::int64_t start_seq = -2;
  std::int64_t max_segments = 0;
  int max_retries = 5;
  double timeout_s = 30;
  net::TlsClientOptions tls;
};

net::awaitable<int> subscribe(const SubscribeArgs& args, std::ostream& out) {
  auto executor = co_await asio::this_coro::executor;
  protocol::SubscriberOptions options;
  options.start_seq = args.start_seq;
  options.max_retries = args.max_retries;
  options.tls = args.tls;
  util::log_tls_choice(args.url, args.tls);
  options.connect_timeout = options.read_timeout =
      std::chrono::milliseconds(static_cast<long long>(args.timeout_s * 1000));
  std::string failure;
  protocol::TrickleSubscriber subscriber(executor, args.url, options,
                                         [&](std::string_view kind, std::string_view) { failure = kind; });
  std::int64_t segments = 0, bytes = 0;
  while (args.max_segments == 0 || segments < args.max_segments) {
    auto segment = co_await subscriber.next();
    if (!segment) break;
    std::int64_t segment_bytes = 0;
    for (;;) {
      auto piece = co_await segment->read();
      if (!piece) {
        spdlog::warn("segment {} cut short: {}", segment->seq(), piece.error().message);
        break;
      }
      if (!*piece) break;
      out.write(reinterpret_cast<const char*>((*piece)->data()), static_cast<std::streamsize>((*piece)->size()));
      segment_bytes += static_cast<std::int64_t>((*piece)->size());
    }
    out.flush();
    spdlog::info("segment {}: {} bytes", segment->seq(), segment_bytes);
    bytes += segment_bytes;
    ++segments;
  }
  subscriber.close();
  // A reader still busy with the last segment when the owner deletes the channel asks for the next
  // one after the channel is gone, and gets 404 (as on go-livepeer's relay): after segments came,
  // that is how a stream ends, not a failure.
  if (failure == protocol::error_kind::stream_not_found && segments > 0) {
    spdlog::info("the channel is gone (deleted by its owner): end of stream");
    failure.clear();
  }
  spdlog::info("{} segments, {} bytes{}", segments, bytes, failure.empty() ? "" : " (ended by " + failure + ")");
  co_return failure.empty() ? 0 : 1;
}

int run_subscribe(const SubscribeArgs& args) {
  std::ofstream file;
  std::ostream* out = &std::cout;
  if (args.out != "-") {
    file.open(args.out, std::ios::binary | std::ios::trunc);
    if (!file) {
      spdlog::error("cannot write {}", args.out);
      return 2;
    }
    out = &file;
  } else {
    std::ios::sync_with_stdio(false);
  }
  asio::io_context io(1);
  int status = 1;
  // The command is over when its coroutine is: stop the loop even if a signal wait or a
  // connection being torn down still holds it.
  asio::co_spawn(io, subscribe(args, *out), [&](std::exception_ptr e, int result) {
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

void add_subscribe_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<SubscribeArgs>();
  auto* cmd = app.add_subcommand("subscribe", "Read a channel and write its segments back to back");
  cmd->add_option("url", args->url, "Channel URL, e.g. http://127.0.0.1:3389/mystream")->required();
  cmd->add_option("--out,-o", args->out, "Output file, or - for stdout")->capture_default_str();
  cmd->add_option("--start-seq", args->start_seq, "First seq (-1: next segment, -2: current one)")
      ->capture_default_str();
  cmd->add_option("--max-segments", args->max_segments, "Stop after this many segments (0: until the stream ends)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-retries", args->max_retries, "Attempts per segment before giving up")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--timeout", args->timeout_s, "Seconds to wait for a segment to start or continue")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  util::add_tls_client_flags(*cmd, args->tls);
  cmd->callback([args, &exit_code] { exit_code = run_subscribe(*args); });
}

}  // namespace trickle::cli
