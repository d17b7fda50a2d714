#pragma once
// Failures of an HTTP exchange as values (docs/architecture.md: expected outcomes are not exceptions).

#include <string>

#include <tl/expected.hpp>

namespace trickle::net {

enum class HttpErrc {
  timeout,           // an operation ran past its deadline
  closed,            // the peer closed the connection (cleanly or not) before the exchange ended
  cancelled,         // we stopped it (shutdown)
  malformed,         // the peer sent bytes that are not HTTP/1.1
  header_too_large,  // request line + headers over the limit
  body_too_large,    // body (or one chunk) over the limit
  connect_failed,    // resolve or TCP connect failed
  io,                // any other socket error
};

struct HttpError {
  HttpErrc code;
  std::string message;

  // The status a server answers with for this failure (0: no answer possible, just close).
  int status() const {
    switch (code) {
      case HttpErrc::malformed: return 400;
      case HttpErrc::header_too_large: return 431;
      case HttpErrc::body_too_large: return 413;
      default: return 0;
    }
  }
};

const char* to_string(HttpErrc code);

template <typename T>
using HttpResult = tl::expected<T, HttpError>;

inline tl::unexpected<HttpError> http_error(HttpErrc code, std::string message) {
  return tl::unexpected<HttpError>(HttpError{code, std::move(message)});
}

}  // namespace trickle::net
