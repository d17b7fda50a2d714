#pragma once
// Size limits and deadlines that keep one peer from holding memory or a connection forever.

#include <chrono>
#include <cstddef>

namespace trickle::net {

using namespace std::chrono_literals;

struct HttpLimits {
  std::size_t max_header_bytes = 16 * 1024;           // request/status line + all header fields
  std::size_t max_body_bytes = 256ull * 1024 * 1024;  // one message body (sum of chunks)
  std::chrono::milliseconds header_timeout = 10s;     // first byte → complete head
  std::chrono::milliseconds idle_timeout = 60s;       // keep-alive connection waiting for a request
  std::chrono::milliseconds write_timeout = 30s;      // one write to a peer that stopped reading
  std::size_t read_buffer_bytes = 64 * 1024;          // per connection: the most one read pulls in (grown to on demand)
  std::size_t max_connections = 8192;                 // server: open connections; beyond, 503 and close
  std::size_t max_connections_per_client = 1024;      // server: open connections from one address
};

}  // namespace trickle::net
