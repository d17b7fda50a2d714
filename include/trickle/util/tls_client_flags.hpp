#pragma once
// The command-line flags that choose how https:// peers are checked, shared by the `trickle`
// tool and the C++ worker's main (header-only: it needs CLI11, which both already use).

#include <string>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "trickle/net/tls.hpp"
#include "trickle/net/url.hpp"

namespace trickle::util {

// --ca FILE and --verify-tls. `tls` starts from the environment (TRICKLE_CA_BUNDLE,
// TRICKLE_TLS_VERIFY); the flags can only turn checks on.
inline void add_tls_client_flags(CLI::App& command, net::TlsClientOptions& tls) {
  tls = net::TlsClientOptions::from_environment();
  command
      .add_option("--ca", tls.ca_file,
                  "For https:// URLs: check the server's certificate against this PEM bundle "
                  "(default: not checked, as PyTrickle; also $TRICKLE_CA_BUNDLE)")
      ->check(CLI::ExistingFile);
  command.add_flag("--verify-tls", tls.verify,
                   "For https:// URLs: check the server's certificate against the system's CAs "
                   "(also TRICKLE_TLS_VERIFY=1)");
}

// One INFO line when `url` is https://: whether its certificate is checked.
inline void log_tls_choice(const std::string& url, const net::TlsClientOptions& tls) {
  if (auto parsed = net::Url::parse(url); parsed && parsed->secure) spdlog::info("{}: {}", url, tls.describe());
}

}  // namespace trickle::util
