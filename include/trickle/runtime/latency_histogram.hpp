#pragma once

// Per-stage latency: every sample is counted, the most recent `window` are kept so percentiles
// describe the stream as it runs now (a slow start does not haunt p99 for the whole stream).
// Stages record from their own threads, so it locks; a record is a few nanoseconds.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <vector>

#include "trickle/util/python_json.hpp"

namespace trickle::runtime {

class LatencyHistogram {
 public:
  explicit LatencyHistogram(std::size_t window = 4096);

  void record(std::chrono::steady_clock::duration latency);
  void record_since(std::chrono::steady_clock::time_point start) { record(std::chrono::steady_clock::now() - start); }

  struct Summary {
    std::int64_t count = 0;                                 // every sample ever recorded
    double p50_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0;  // over the recent window
  };
  Summary summary() const;
  util::Json to_json() const;

 private:
  const std::size_t window_;
  mutable std::mutex mutex_;
  std::vector<std::int64_t> samples_us_;  // ring buffer once full
  std::size_t next_ = 0;
  std::int64_t count_ = 0;
};

}  // namespace trickle::runtime
