#pragma once
// TLS settings and contexts for https:// peers. OpenSSL stays behind this layer: the context's
// contents are defined in src/net, so nothing that includes this header sees OpenSSL's API.
//
// Clients do not verify certificates unless asked, exactly as upstream PyTrickle (aiohttp with
// verify_ssl=False): a go-livepeer orchestrator serves its trickle URLs with a self-signed
// certificate. Verification is turned on by the options below, or for the whole process by
// environment variables (see from_environment()).

#include <memory>
#include <string>

#include "trickle/net/http_error.hpp"

namespace trickle::net {

// Environment variables read by TlsClientOptions::from_environment().
inline constexpr const char* env_ca_bundle = "TRICKLE_CA_BUNDLE";    // PEM file: verify against it
inline constexpr const char* env_tls_verify = "TRICKLE_TLS_VERIFY";  // 1/true/yes: verify (system CAs)

struct TlsClientOptions {
  bool verify = false;  // check the certificate chain and that it names the host we connect to
  std::string ca_file;  // PEM bundle to trust; non-empty turns verification on. Empty: system CAs

  bool verifies() const { return verify || !ca_file.empty(); }
  // Off unless TRICKLE_CA_BUNDLE names a bundle or TRICKLE_TLS_VERIFY is 1/true/yes.
  static TlsClientOptions from_environment();
  // These options with the environment's requests added (the environment can only turn it on).
  TlsClientOptions with_environment() const;
  // One line for logs: "certificate verification off" / "verifying against FILE".
  std::string describe() const;
};

struct TlsServerOptions {
  std::string cert_file;  // PEM: the certificate, then any intermediates
  std::string key_file;   // PEM private key
};

// An OpenSSL context (SSL_CTX) with its settings. Client contexts are cached per options, so
// the CA bundle is read once per process, not once per connection.
class TlsContext {
 public:
  static HttpResult<std::shared_ptr<TlsContext>> client(const TlsClientOptions& options);
  static HttpResult<std::shared_ptr<TlsContext>> server(const TlsServerOptions& options);

  struct Impl;
  explicit TlsContext(std::unique_ptr<Impl> impl);
  ~TlsContext();
  Impl& impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace trickle::net
