#pragma once
// What one stream counts: frame rates, per-stage latency and the counters of its parts (media
// path, processing loop). Each part writes its own; StreamPipeline::stats() reads them all.

#include <atomic>
#include <cstdint>

#include "trickle/runtime/fps_meter.hpp"
#include "trickle/runtime/latency_histogram.hpp"

namespace trickle::runtime {

struct StreamMeters {
  FpsMeter fps;
  LatencyHistogram decode_latency, process_latency, encode_latency, total_latency;
  std::atomic<std::int64_t> video_processed{0}, video_skipped{0}, video_withheld{0};
  std::atomic<std::int64_t> video_processor_errors{0}, audio_processor_errors{0};
  std::atomic<std::int64_t> segments_in{0}, segments_out{0}, bytes_in{0}, bytes_out{0};
};

}  // namespace trickle::runtime
