#include "trickle/net/tls.hpp"

#include <cstdlib>
#include <map>
#include <mutex>
#include <utility>

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "tls_context_impl.hpp"

namespace trickle::net {

static bool env_says_yes(const char* name) {
  const char* value = std::getenv(name);
  if (!value) return false;
  std::string text(value);
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text == "1" || text == "true" || text == "yes" || text == "on";
}

TlsClientOptions TlsClientOptions::from_environment() { return TlsClientOptions{}.with_environment(); }

TlsClientOptions TlsClientOptions::with_environment() const {
  TlsClientOptions out = *this;
  if (const char* bundle = std::getenv(env_ca_bundle); bundle && *bundle && out.ca_file.empty()) out.ca_file = bundle;
  if (env_says_yes(env_tls_verify)) out.verify = true;
  return out;
}

std::string TlsClientOptions::describe() const {
  if (!verifies()) return "certificate verification off";
  if (ca_file.empty()) return "verifying certificates against the system's CAs";
  return fmt::format("verifying certificates against {}", ca_file);
}

TlsContext::TlsContext(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TlsContext::~TlsContext() = default;

// TLS 1.2 is the floor: go-livepeer's server (Go's crypto/tls) and aiohttp both speak 1.2 and 1.3.
static void common_settings(asio::ssl::context& context) {
  context.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                      asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1 |
                      asio::ssl::context::single_dh_use);
}

HttpResult<std::shared_ptr<TlsContext>> TlsContext::client(const TlsClientOptions& options) {
  // One context per distinct settings, for the life of the process: a subscriber opens a new
  // connection for every segment, and reading a CA bundle each time would cost more than the
  // handshake.
  static std::mutex mutex;
  static std::map<std::pair<bool, std::string>, std::shared_ptr<TlsContext>> cache;
  std::pair key{options.verifies(), options.ca_file};
  std::lock_guard lock(mutex);
  if (auto found = cache.find(key); found != cache.end()) return found->second;

  auto impl = std::make_unique<Impl>(asio::ssl::context::tls_client);
  common_settings(impl->context);
  impl->client = true;
  impl->verify = key.first;
  std::error_code ec;
  if (impl->verify) {
    if (options.ca_file.empty())
      impl->context.set_default_verify_paths(ec);
    else
      impl->context.load_verify_file(options.ca_file, ec);
    if (ec) {
      return http_error(HttpErrc::connect_failed,
                        fmt::format("cannot load the CA bundle {}: {}",
                                    options.ca_file.empty() ? "(system default)" : options.ca_file, ec.message()));
    }
    impl->context.set_verify_mode(asio::ssl::verify_peer);
  } else {
    impl->context.set_verify_mode(asio::ssl::verify_none);
  }
  auto context = std::make_shared<TlsContext>(std::move(impl));
  cache.emplace(std::move(key), context);
  return context;
}

HttpResult<std::shared_ptr<TlsContext>> TlsContext::server(const TlsServerOptions& options) {
  auto impl = std::make_unique<Impl>(asio::ssl::context::tls_server);
  common_settings(impl->context);
  impl->client = false;
  std::error_code ec;
  impl->context.use_certificate_chain_file(options.cert_file, ec);
  if (ec) {
    return http_error(HttpErrc::connect_failed,
                      fmt::format("cannot load the TLS certificate {}: {}", options.cert_file, ec.message()));
  }
  impl->context.use_private_key_file(options.key_file, asio::ssl::context::pem, ec);
  bool mismatch = ec && ec.category() == asio::error::get_ssl_category() &&
                  ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == X509_R_KEY_VALUES_MISMATCH;
  if (ec && !mismatch) {
    return http_error(HttpErrc::connect_failed,
                      fmt::format("cannot load the TLS key {}: {}", options.key_file, ec.message()));
  }
  if (mismatch || SSL_CTX_check_private_key(impl->context.native_handle()) != 1) {
    return http_error(HttpErrc::connect_failed, fmt::format("the TLS key {} does not match the certificate {}",
                                                            options.key_file, options.cert_file));
  }
  return std::make_shared<TlsContext>(std::move(impl));
}

}  // namespace trickle::net
