#pragma once
// The command-line flags that cap a server's connections, shared by `trickle serve` and the C++
// worker's main (header-only: it needs CLI11, which both already use).

#include <CLI/CLI.hpp>

#include "trickle/net/http_limits.hpp"

namespace trickle::util {

// --max-connections N and --max-connections-per-client N (0: no cap). Past either, a new
// connection is answered 503 and closed.
inline void add_connection_limit_flags(CLI::App& command, net::HttpLimits& limits) {
  command
      .add_option("--max-connections", limits.max_connections,
                  "Open connections at most; past it a new one gets 503 and is closed (0: no cap)")
      ->capture_default_str();
  command
      .add_option("--max-connections-per-client", limits.max_connections_per_client,
                  "Open connections from one address at most (0: no cap)")
      ->capture_default_str();
}

}  // namespace trickle::util
