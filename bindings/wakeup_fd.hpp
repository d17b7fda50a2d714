#pragma once
// An eventfd the Python event loop watches (loop.add_reader): engine threads wake() it when they
// have queued something for Python; the loop drain()s it, then takes what is queued.

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace trickle::python {

class WakeupFd {
 public:
  WakeupFd() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (fd_ < 0) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
  }
  ~WakeupFd() { ::close(fd_); }
  WakeupFd(const WakeupFd&) = delete;
  WakeupFd& operator=(const WakeupFd&) = delete;

  int fd() const { return fd_; }

  void wake() const {
    const std::uint64_t one = 1;
    [[maybe_unused]] auto written = ::write(fd_, &one, sizeof one);  // EAGAIN: already awake
  }

  void drain() const {
    std::uint64_t count;
    [[maybe_unused]] auto read = ::read(fd_, &count, sizeof count);
  }

 private:
  int fd_;
};

}  // namespace trickle::python
