#pragma once
// Trickle publisher: segment n is one streaming POST to {url}/{n} (chunked body). The POST for
// n+1 is opened as soon as n is handed out (pre-connect), so the next segment starts with no
// connection set-up. Writes go straight to the socket: a slow relay slows the writer down. Once the
// relay answers 404 or Lp-Trickle-Closed the channel is gone, and next() hands out inert writers.

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "trickle/net/http_client.hpp"
#include "trickle/protocol/client_errors.hpp"

namespace trickle::protocol {

using namespace std::chrono_literals;

struct PublisherOptions {
  std::string mime_type = "video/mp4";  // PyTrickle's default; video uses video/mp2t
  std::int64_t start_seq = 0;
  std::chrono::milliseconds connect_timeout = 30s;  // connect, and wait for the reply once a segment ends
  // https:// only: certificates are not checked unless asked here or by the environment.
  net::TlsClientOptions tls = net::TlsClientOptions::from_environment();
};

class SegmentWriter {
 public:
  struct State;
  explicit SegmentWriter(std::shared_ptr<State> state);
  ~SegmentWriter();

  std::int64_t seq() const;
  // Appends bytes to the segment; false once the POST has failed (the error was reported).
  net::awaitable<bool> write(std::span<const std::uint8_t> bytes);
  // Ends the segment and waits for the relay's answer; true when it answered 200.
  net::awaitable<bool> close();

 private:
  std::shared_ptr<State> state_;
};

class TricklePublisher {
 public:
  TricklePublisher(net::Executor executor, std::string url, PublisherOptions options = {}, ErrorCallback on_error = {});
  ~TricklePublisher();
  TricklePublisher(const TricklePublisher&) = delete;
  TricklePublisher& operator=(const TricklePublisher&) = delete;

  // The writer for the next segment; after close() a writer whose writes do nothing.
  net::awaitable<std::shared_ptr<SegmentWriter>> next();

  // Ends the pre-connected POST with an empty body and waits (bounded) for segments still being
  // sent to be answered, so the tail of the last segment is not lost.
  net::awaitable<void> close();

  // DELETE {url}: how the channel's owner ends the stream for every reader.
  net::awaitable<bool> delete_channel();

  // For a publisher that stops while its channel goes on (`trickle publish --keep-open`): open
  // segments are finished as by close(), but the pre-connected POST is dropped without an end, so
  // readers are not handed an empty segment; they wait at its seq for whoever publishes next.
  net::awaitable<void> close_leaving_channel_open();

  // The owner's end of a stream: open segments are finished and answered, then DELETE {url}, then
  // the pre-connected POST is ended. True when the DELETE was answered 200.
  net::awaitable<bool> close_and_delete_channel();

  std::int64_t next_seq() const;
  // The relay answered 404 or Lp-Trickle-Closed: the channel is gone and nothing more is posted.
  bool channel_gone() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace trickle::protocol
