#pragma once
// One trickle segment held by the relay: an append-only list of immutable chunks. Readers share
// the chunks (no copy per reader) and each keeps its own position; the segment's signal wakes
// them when a chunk arrives or the segment closes.

#include <cstdint>
#include <memory>
#include <vector>

#include "trickle/net/async_signal.hpp"

namespace trickle::protocol {

using Bytes = std::vector<std::uint8_t>;
using SharedBytes = std::shared_ptr<const Bytes>;

class Segment {
 public:
  Segment(const net::Executor& executor, std::int64_t seq) : seq_(seq), signal_(executor) {}

  std::int64_t seq() const { return seq_; }

  void append(SharedBytes chunk) {
    if (closed_ || !chunk || chunk->empty()) return;
    size_ += chunk->size();
    chunks_.push_back(std::move(chunk));
    signal_.notify_all();
  }

  // No more bytes will come: the publisher finished, died, or the segment/channel was closed.
  void close() {
    if (closed_) return;
    closed_ = true;
    signal_.notify_all();
  }

  bool closed() const { return closed_; }

  // Its publisher ended the POST normally, even with no bytes at all. Unlike a segment closed by a
  // DELETE or by a publisher that died, an empty one is still a segment: readers get it as a 200
  // with an empty body (as go-livepeer's server answers), not as "not available".
  void end_published() {
    published_ = true;
    close();
  }
  bool published() const { return published_; }

  // Readers waiting on or streaming this segment (a fan-out metric; tests wait on it).
  int reader_count() const { return readers_; }
  struct ReaderGuard {
    explicit ReaderGuard(std::shared_ptr<Segment> s) : segment(std::move(s)) { ++segment->readers_; }
    ~ReaderGuard() { --segment->readers_; }
    ReaderGuard(const ReaderGuard&) = delete;
    ReaderGuard& operator=(const ReaderGuard&) = delete;
    std::shared_ptr<Segment> segment;
  };
  std::size_t size() const { return size_; }
  std::size_t chunk_count() const { return chunks_.size(); }
  const SharedBytes& chunk(std::size_t index) const { return chunks_[index]; }
  net::AsyncSignal& signal() { return signal_; }

 private:
  std::int64_t seq_;
  std::vector<SharedBytes> chunks_;
  std::size_t size_ = 0;
  bool closed_ = false;
  bool published_ = false;
  int readers_ = 0;
  net::AsyncSignal signal_;
};

}  // namespace trickle::protocol
