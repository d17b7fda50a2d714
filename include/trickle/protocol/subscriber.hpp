#pragma once
// Trickle subscriber: reads a channel segment after segment, with the GET for the next segment
// already in flight while the current one is read (pre-connect). 404 reports stream_not_found and
// ends; 470 re-syncs at Lp-Trickle-Latest at once (using an attempt); other failures retry (0.5 s
// apart); max_retries attempts in a row without a segment end with max_retries_exceeded. A GET that
// waits connect_timeout for its segment to start counts as failed, as in PyTrickle (go-livepeer's
// subscriber re-asks for ever). A response carrying Lp-Trickle-Closed is the end of the stream.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "trickle/net/http_client.hpp"
#include "trickle/protocol/client_errors.hpp"

namespace trickle::protocol {

using namespace std::chrono_literals;

struct SubscriberOptions {
  std::int64_t start_seq = -2;  // -2: join the segment being written now
  int max_retries = 5;
  std::chrono::milliseconds connect_timeout = 30s;  // connect + wait for the segment to start
  std::chrono::milliseconds read_timeout = 30s;     // longest pause between two body pieces
  std::chrono::milliseconds retry_delay = 500ms;
  // https:// only: certificates are not checked unless asked here or by the environment.
  net::TlsClientOptions tls = net::TlsClientOptions::from_environment();
};

// One segment being received; bytes come as the publisher writes them.
class SubscribedSegment {
 public:
  SubscribedSegment(std::unique_ptr<net::HttpClientConnection> connection, net::ResponseHead head,
                    std::chrono::milliseconds read_timeout);
  ~SubscribedSegment();

  std::int64_t seq() const { return seq_; }  // -1 when the server did not say
  bool eos() const { return eos_; }          // the channel is closed
  const net::ResponseHead& head() const { return head_; }

  // The next piece of the segment (nullopt: the segment ended).
  net::awaitable<net::HttpResult<net::BodyPiece>> read();
  void close();

 private:
  std::unique_ptr<net::HttpClientConnection> connection_;
  net::ResponseHead head_;
  std::chrono::milliseconds read_timeout_;
  std::int64_t seq_ = -1;
  bool eos_ = false;
};

class TrickleSubscriber {
 public:
  TrickleSubscriber(net::Executor executor, std::string url, SubscriberOptions options = {},
                    ErrorCallback on_error = {});
  ~TrickleSubscriber();
  TrickleSubscriber(const TrickleSubscriber&) = delete;
  TrickleSubscriber& operator=(const TrickleSubscriber&) = delete;

  // The next segment, or nullptr at end of stream, after a reported error, or once closed.
  net::awaitable<std::unique_ptr<SubscribedSegment>> next();

  // Stops: the pending pre-connected GET is dropped and next() returns nullptr.
  void close();

  std::int64_t next_seq() const;
  bool failed() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace trickle::protocol
