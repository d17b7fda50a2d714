#pragma once

// Names the calling thread as `top -H`, `perf` and debuggers show it ("trk-decode" rather than
// "python" for every thread of a worker), so an operator can tell which stage is busy.

#include <string>
#include <string_view>

#if defined(__linux__)
#include <pthread.h>
#endif

namespace trickle::util {

inline void name_this_thread(std::string_view name) {
#if defined(__linux__)
  // Linux keeps 15 characters and the terminator; longer names are refused, so cut them.
  const std::string cut(name.substr(0, 15));
  pthread_setname_np(pthread_self(), cut.c_str());
#else
  (void)name;
#endif
}

}  // namespace trickle::util
