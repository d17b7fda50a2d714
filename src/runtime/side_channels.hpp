#pragma once
// One stream's side channels, beside its media: control (JSON parameter messages in), events
// (one JSON object per segment out, with the periodic heartbeat) and data (a JSON array of the
// items published since the last post, every send_data_interval). Each is there only when its
// URL is given. A failure of any of them ends the stream, as upstream's error callback does.
//
// The owner (StreamPipeline) runs the loops on its io thread, counting them, keeps this object
// alive until they have ended, and calls close() once the media is done.

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "pipeline_support.hpp"
#include "trickle/net/async_signal.hpp"
#include "trickle/protocol/publisher.hpp"
#include "trickle/protocol/subscriber.hpp"
#include "trickle/runtime/stream_pipeline.hpp"

namespace trickle::runtime {

class SideChannels {
 public:
  struct Hooks {
    std::function<void(util::Json params)> on_params;  // a control message (not the keep-alive)
    std::function<util::Json()> fps_stats;             // for the heartbeat: upstream's FPSMeter stats
    std::function<void()> wake_io;                     // any thread: io-thread waiters look again
    ReportFailure fail;                                // a channel failed: report and end the stream
    std::function<bool()> stopping;                    // the stream is being stopped
  };

  SideChannels(net::Executor executor, const StreamPipelineOptions& options, net::AsyncSignal& io_signal, Hooks hooks);

  // io-thread coroutines, each run only when its channel's URL is given.
  net::awaitable<void> read_control();
  net::awaitable<void> post_events();
  net::awaitable<void> post_heartbeats();
  net::awaitable<void> post_data();

  // Any thread.
  void emit_event(util::Json event, std::string queue_event_type);
  void publish_data(std::string item);

  // io thread: the media is done; the loops post what is pending and end.
  void close();
  // io thread: stop reading the control channel now.
  void stop_control();

 private:
  std::unique_ptr<protocol::TricklePublisher> make_publisher(const std::string& url, std::string mime_type,
                                                             const char* channel);

  net::Executor executor_;
  const StreamPipelineOptions& options_;
  net::AsyncSignal& io_signal_;
  Hooks hooks_;

  // io thread only
  bool closing_ = false;
  std::unique_ptr<protocol::TrickleSubscriber> control_;
  std::unique_ptr<protocol::TricklePublisher> events_, data_;

  std::mutex mutex_;
  std::deque<std::string> pending_events_;
  bool events_closed_ = false;
  std::deque<std::string> pending_data_;
};

}  // namespace trickle::runtime
