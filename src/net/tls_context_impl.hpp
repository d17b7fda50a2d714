#pragma once
// What a TlsContext holds (private to src/net: the one place OpenSSL's headers are included).

#include <asio/ssl.hpp>

#include "trickle/net/tls.hpp"

namespace trickle::net {

struct TlsContext::Impl {
  explicit Impl(asio::ssl::context::method method) : context(method) {}
  asio::ssl::context context;
  bool client = true;
  bool verify = false;
};

}  // namespace trickle::net
