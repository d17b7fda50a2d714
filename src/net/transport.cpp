#include "trickle/net/transport.hpp"

#include <vector>

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tls_context_impl.hpp"

namespace trickle::net {

struct Transport::TlsStream {
  TlsStream(asio::ip::tcp::socket socket, std::shared_ptr<TlsContext> ctx)
      : context(std::move(ctx)), stream(std::move(socket), context->impl().context) {}
  std::shared_ptr<TlsContext> context;  // outlives the stream that uses it
  asio::ssl::stream<asio::ip::tcp::socket> stream;
  std::vector<std::uint8_t> gathered;  // several buffers copied into one TLS write
};

Transport::Transport(asio::ip::tcp::socket socket) : plain_(std::move(socket)) {}

Transport::Transport(asio::ip::tcp::socket socket, std::shared_ptr<TlsContext> context)
    : plain_(socket.get_executor()), tls_(std::make_unique<TlsStream>(std::move(socket), std::move(context))) {}

Transport::~Transport() = default;
Transport::Transport(Transport&&) noexcept = default;

asio::ip::tcp::socket& Transport::socket() { return tls_ ? tls_->stream.next_layer() : plain_; }
const asio::ip::tcp::socket& Transport::socket() const { return tls_ ? tls_->stream.next_layer() : plain_; }

void Transport::close() {
  auto& s = socket();
  std::error_code ignored;
  if (s.is_open()) {
    s.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    s.close(ignored);
  }
}

// A peer that drops a TLS connection without close_notify is, for HTTP's purposes, one that
// closed it: a body delimited by Content-Length or chunks is complete or not either way.
static std::error_code plain_meaning(std::error_code ec) {
  if (ec == asio::ssl::error::stream_truncated) return asio::error::eof;
  return ec;
}

awaitable<std::error_code> Transport::client_handshake(const std::string& host) {
  if (!tls_) co_return std::error_code{};
  std::error_code ec;
  asio::ip::make_address(host, ec);
  bool literal_address = !ec;
  // SNI names hosts, never addresses (RFC 6066).
  if (!literal_address) SSL_set_tlsext_host_name(tls_->stream.native_handle(), host.c_str());
  if (tls_->context->impl().verify) tls_->stream.set_verify_callback(asio::ssl::host_name_verification(host));
  auto [handshake_ec] = co_await tls_->stream.async_handshake(asio::ssl::stream_base::client, use_nothrow);
  co_return handshake_ec;
}

awaitable<std::error_code> Transport::server_handshake() {
  if (!tls_) co_return std::error_code{};
  auto [ec] = co_await tls_->stream.async_handshake(asio::ssl::stream_base::server, use_nothrow);
  co_return ec;
}

awaitable<std::tuple<std::error_code, std::size_t>> Transport::read_some(asio::mutable_buffer buffer) {
  if (!tls_) co_return co_await plain_.async_read_some(buffer, use_nothrow);
  auto [ec, n] = co_await tls_->stream.async_read_some(buffer, use_nothrow);
  co_return std::tuple{plain_meaning(ec), n};
}

awaitable<std::tuple<std::error_code, std::size_t>> Transport::write(std::span<const asio::const_buffer> buffers) {
  if (!tls_) co_return co_await asio::async_write(plain_, buffers, use_nothrow);
  // The TLS stream writes one buffer per record: a chunk's size line, data and CRLF would be
  // three records and three system calls. Small gathers are copied into one write instead.
  if (buffers.size() == 1) {
    auto [ec, n] = co_await asio::async_write(tls_->stream, asio::buffer(buffers[0]), use_nothrow);
    co_return std::tuple{plain_meaning(ec), n};
  }
  auto& gathered = tls_->gathered;
  gathered.resize(asio::buffer_size(buffers));
  asio::buffer_copy(asio::buffer(gathered), buffers);
  auto [ec, n] = co_await asio::async_write(tls_->stream, asio::buffer(gathered), use_nothrow);
  co_return std::tuple{plain_meaning(ec), n};
}

std::string describe_tls_failure(const std::error_code& ec) {
  if (ec == asio::ssl::error::stream_truncated || ec == asio::error::eof)
    return "the server closed the connection during the TLS handshake (is it an https:// server?)";
  if (ec.category() == asio::error::get_ssl_category()) {
    auto reason = ERR_GET_REASON(static_cast<unsigned long>(ec.value()));
    if (reason == SSL_R_WRONG_VERSION_NUMBER || reason == SSL_R_PACKET_LENGTH_TOO_LONG ||
        reason == SSL_R_HTTP_REQUEST || reason == SSL_R_HTTPS_PROXY_REQUEST)
      return fmt::format("{} (the server does not speak TLS: is it an http:// URL?)", ec.message());
    if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED)
      return fmt::format(
          "{} (the server's certificate is not trusted: name its CA bundle with --ca or {}, "
          "or leave verification off)",
          ec.message(), env_ca_bundle);
  }
  return ec.message();
}

}  // namespace trickle::net
