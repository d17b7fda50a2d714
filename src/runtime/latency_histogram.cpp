#include "trickle/runtime/latency_histogram.hpp"

#include <algorithm>
#include <cmath>

namespace trickle::runtime {

LatencyHistogram::LatencyHistogram(std::size_t window) : window_(std::max<std::size_t>(window, 1)) {
  samples_us_.reserve(window_);
}

void LatencyHistogram::record(std::chrono::steady_clock::duration latency) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(latency).count();
  std::lock_guard lock(mutex_);
  if (samples_us_.size() < window_) {
    samples_us_.push_back(us);
  } else {
    samples_us_[next_] = us;
    next_ = (next_ + 1) % window_;
  }
  ++count_;
}

LatencyHistogram::Summary LatencyHistogram::summary() const {
  std::vector<std::int64_t> sorted;
  Summary summary;
  {
    std::lock_guard lock(mutex_);
    sorted = samples_us_;
    summary.count = count_;
  }
  if (sorted.empty()) return summary;
  std::sort(sorted.begin(), sorted.end());
  // Nearest rank: the smallest sample with at least p of the samples at or below it.
  auto rank = [&](double p) {
    const auto index = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
    return static_cast<double>(sorted[std::clamp<std::size_t>(index, 1, sorted.size()) - 1]) / 1000.0;
  };
  summary.p50_ms = rank(0.50);
  summary.p90_ms = rank(0.90);
  summary.p99_ms = rank(0.99);
  summary.max_ms = static_cast<double>(sorted.back()) / 1000.0;
  return summary;
}

util::Json LatencyHistogram::to_json() const {
  const auto s = summary();
  return {{"count", s.count}, {"p50_ms", s.p50_ms}, {"p90_ms", s.p90_ms}, {"p99_ms", s.p99_ms}, {"max_ms", s.max_ms}};
}

}  // namespace trickle::runtime
