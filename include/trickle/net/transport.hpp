#pragma once
// The byte stream under one HTTP connection: a TCP socket, plain or wrapped in TLS. The HTTP
// code above reads and writes through it without knowing which, so http:// and https:// peers
// share every deadline, back-pressure and keep-alive rule.

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <tuple>

#include "trickle/net/asio.hpp"
#include "trickle/net/tls.hpp"

namespace trickle::net {

class Transport {
 public:
  // Plain TCP.
  explicit Transport(asio::ip::tcp::socket socket);
  // TLS over `socket`; call client_handshake() or server_handshake() before any read or write.
  Transport(asio::ip::tcp::socket socket, std::shared_ptr<TlsContext> context);
  ~Transport();
  Transport(Transport&&) noexcept;
  Transport& operator=(Transport&&) = delete;

  // SNI (for host names, not IP literals) and, when the context verifies, the host-name check.
  awaitable<std::error_code> client_handshake(const std::string& host);
  awaitable<std::error_code> server_handshake();

  // As the socket's own operations. A TLS peer that closes without close_notify reads as eof.
  awaitable<std::tuple<std::error_code, std::size_t>> read_some(asio::mutable_buffer buffer);
  awaitable<std::tuple<std::error_code, std::size_t>> write(std::span<const asio::const_buffer> buffers);

  bool secure() const { return tls_ != nullptr; }
  bool is_open() const { return socket().is_open(); }
  // Closes the TCP socket: pending reads and writes (and a handshake) complete at once.
  void close();
  // The underlying TCP socket (endpoints, options, a half-close).
  asio::ip::tcp::socket& socket();
  const asio::ip::tcp::socket& socket() const;

  struct TlsStream;

 private:
  asio::ip::tcp::socket plain_;  // moved into the TLS stream when secure
  std::unique_ptr<TlsStream> tls_;
};

// "https://..." failed its handshake: a message that says what that usually means.
std::string describe_tls_failure(const std::error_code& ec);

}  // namespace trickle::net
