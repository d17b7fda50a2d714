#pragma once
// Small things the parts of a stream pipeline share (private to src/runtime).

#include <chrono>
#include <cstdint>
#include <functional>
#include <string_view>
#include <variant>

#include "trickle/net/asio.hpp"
#include "trickle/runtime/bounded_queue.hpp"
#include "trickle/runtime/frame_processor.hpp"

namespace trickle::runtime {

// Processed frames on their way to the encoder.
using OutputItem = std::variant<VideoFrame, AudioFrame>;
using OutputQueue = BoundedQueue<OutputItem>;

// How a part reports why the stream ended or failed (upstream's error kinds).
using ReportFailure = std::function<void(std::string_view kind, std::string_view message)>;

// "Never": the longest wait the clock can express (milliseconds::max() would overflow it).
inline const auto no_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(net::Clock::duration::max());

inline std::chrono::milliseconds seconds_to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000.0));
}

// Logs the first few occurrences of a repeating problem, then every 100th.
inline bool worth_logging(std::int64_t occurrence) { return occurrence <= 3 || occurrence % 100 == 0; }

}  // namespace trickle::runtime
