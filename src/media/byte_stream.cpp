#include "trickle/media/byte_stream.hpp"

#include <algorithm>
#include <cstring>

namespace trickle::media {

ByteStream::ByteStream(std::size_t capacity_bytes) : capacity_bytes_(capacity_bytes) {}

bool ByteStream::has_room_for(std::size_t size) const {
  return queued_bytes_ == 0 || queued_bytes_ + size <= capacity_bytes_;
}

bool ByteStream::push(std::vector<std::uint8_t> chunk) {
  std::unique_lock lock(mutex_);
  writable_.wait(lock, [&] { return closed_ || aborted_ || has_room_for(chunk.size()); });
  if (closed_ || aborted_) {
    return false;
  }
  if (chunk.empty()) {
    return true;  // an empty chunk would read as "no data" and is not worth a queue slot
  }
  queued_bytes_ += chunk.size();
  chunks_.push_back(std::move(chunk));
  readable_.notify_one();
  return true;
}

bool ByteStream::try_push(std::vector<std::uint8_t>& chunk) {
  std::lock_guard lock(mutex_);
  if (closed_ || aborted_ || !has_room_for(chunk.size())) {
    return false;
  }
  if (!chunk.empty()) {
    queued_bytes_ += chunk.size();
    chunks_.push_back(std::move(chunk));
    readable_.notify_one();
  }
  return true;
}

void ByteStream::close() {
  std::lock_guard lock(mutex_);
  closed_ = true;
  readable_.notify_all();
  writable_.notify_all();
}

void ByteStream::abort() {
  std::lock_guard lock(mutex_);
  aborted_ = true;
  chunks_.clear();
  front_offset_ = 0;
  queued_bytes_ = 0;
  readable_.notify_all();
  writable_.notify_all();
}

ByteStream::ReadResult ByteStream::read(std::span<std::uint8_t> destination) {
  std::unique_lock lock(mutex_);
  readable_.wait(lock, [&] { return aborted_ || closed_ || queued_bytes_ > 0; });
  if (aborted_) {
    return {ReadStatus::aborted, 0};
  }
  if (queued_bytes_ == 0) {
    return {ReadStatus::end, 0};
  }
  std::size_t copied = 0;
  while (copied < destination.size() && !chunks_.empty()) {
    const auto& front = chunks_.front();
    const std::size_t take = std::min(destination.size() - copied, front.size() - front_offset_);
    std::memcpy(destination.data() + copied, front.data() + front_offset_, take);
    copied += take;
    front_offset_ += take;
    if (front_offset_ == front.size()) {
      chunks_.pop_front();
      front_offset_ = 0;
    }
  }
  queued_bytes_ -= copied;
  writable_.notify_all();
  return {ReadStatus::data, copied};
}

bool ByteStream::aborted() const {
  std::lock_guard lock(mutex_);
  return aborted_;
}

std::size_t ByteStream::queued_bytes() const {
  std::lock_guard lock(mutex_);
  return queued_bytes_;
}

}  // namespace trickle::media
