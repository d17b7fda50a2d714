#pragma once

// The hand-over point between the network and the decoder: the subscriber pushes MPEG-TS bytes
// as they arrive, the decoder's AVIO pulls them, so back-to-back trickle segments form one
// continuous stream for the demuxer. Bounded, so a decoder that falls behind slows the producer
// down instead of letting bytes pile up without limit.

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <span>
#include <vector>

namespace trickle::media {

class ByteStream {
 public:
  // A chunk is accepted while fewer than capacity_bytes are queued; a single chunk larger than
  // the capacity is still accepted into an empty queue, so no chunk size can deadlock.
  explicit ByteStream(std::size_t capacity_bytes = 4 * 1024 * 1024);

  ByteStream(const ByteStream&) = delete;
  ByteStream& operator=(const ByteStream&) = delete;

  // Queues the chunk, BLOCKING while the queue is full: call it from a thread that may block
  // (never from an io_context thread). False when the stream was closed or aborted (before or
  // while waiting); the chunk is then dropped.
  bool push(std::vector<std::uint8_t> chunk);

  // Never blocks: false (chunk left untouched) when full, closed or aborted.
  bool try_push(std::vector<std::uint8_t>& chunk);

  // End of stream: the reader drains what is queued, then sees the end.
  void close();
  // Failure: the reader sees an error at its next read (or at once if waiting); queued bytes are
  // discarded and blocked producers are released.
  void abort();

  enum class ReadStatus { data, end, aborted };
  struct ReadResult {
    ReadStatus status;
    std::size_t bytes;  // > 0 exactly when status is data
  };
  // Blocks until at least one byte, the end, or an abort; copies at most destination.size().
  ReadResult read(std::span<std::uint8_t> destination);

  bool aborted() const;
  std::size_t queued_bytes() const;

 private:
  bool has_room_for(std::size_t size) const;

  const std::size_t capacity_bytes_;
  mutable std::mutex mutex_;
  std::condition_variable readable_;
  std::condition_variable writable_;
  std::deque<std::vector<std::uint8_t>> chunks_;
  std::size_t front_offset_ = 0;  // bytes of chunks_.front() already read
  std::size_t queued_bytes_ = 0;  // unread bytes in chunks_
  bool closed_ = false;
  bool aborted_ = false;
};

}  // namespace trickle::media
