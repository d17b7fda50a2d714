#pragma once

// A queue between two pipeline threads that never grows without limit. push() drops the OLDEST
// item when full (live video prefers the newest frame) and counts it, so the producer never waits;
// push_wait() waits for room instead, passing back-pressure upstream to where dropping is cheaper.

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>

namespace trickle::runtime {

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  // False when the queue is closed (the item is discarded).
  bool push(T item) {
    {
      std::lock_guard lock(mutex_);
      if (closed_) return false;
      if (items_.size() >= capacity_) {
        items_.pop_front();
        ++dropped_;
      }
      items_.push_back(std::move(item));
    }
    ready_.notify_one();
    return true;
  }

  // Waits while full; false when the queue is closed or aborted (the item is discarded).
  bool push_wait(T item) {
    {
      std::unique_lock lock(mutex_);
      room_.wait(lock, [&] { return closed_ || items_.size() < capacity_; });
      if (closed_) return false;
      items_.push_back(std::move(item));
    }
    ready_.notify_one();
    return true;
  }

  // Never waits: false when full or closed (the item is left untouched, to retry later).
  bool try_push(T& item) {
    {
      std::lock_guard lock(mutex_);
      if (closed_ || items_.size() >= capacity_) return false;
      items_.push_back(std::move(item));
    }
    ready_.notify_one();
    return true;
  }

  // Blocks for the next item; nullopt once closed and drained.
  std::optional<T> pop() {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [&] { return !items_.empty() || closed_; });
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    lock.unlock();
    room_.notify_one();
    return item;
  }

  // No more pushes; pop() hands out what is queued, then nullopt.
  void close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    ready_.notify_all();
    room_.notify_all();
  }
  // Close and forget what is queued (counted as dropped).
  void abort() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
      dropped_ += items_.size();
      items_.clear();
    }
    ready_.notify_all();
    room_.notify_all();
  }

  // Blocks until there is room or the queue is closed.
  void wait_room() {
    std::unique_lock lock(mutex_);
    room_.wait(lock, [&] { return closed_ || items_.size() < capacity_; });
  }

  bool has_room() const {
    std::lock_guard lock(mutex_);
    return !closed_ && items_.size() < capacity_;
  }

  bool closed() const {
    std::lock_guard lock(mutex_);
    return closed_;
  }

  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return items_.size();
  }
  std::int64_t dropped() const {
    std::lock_guard lock(mutex_);
    return dropped_;
  }

 private:
  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::condition_variable room_;
  std::deque<T> items_;
  std::int64_t dropped_ = 0;
  bool closed_ = false;
};

}  // namespace trickle::runtime
