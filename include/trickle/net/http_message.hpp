#pragma once
// The head of an HTTP/1.1 request or response; bodies are streamed separately.

#include <string>
#include <string_view>

#include "trickle/net/http_headers.hpp"

namespace trickle::net {

struct RequestHead {
  std::string method;  // "GET", "POST", ...
  std::string target;  // origin-form as received: "/path?query"
  int version_minor = 1;
  HttpHeaders headers;

  std::string_view path() const {
    std::string_view t = target;
    return t.substr(0, t.find('?'));
  }
};

struct ResponseHead {
  int status = 0;
  std::string reason;
  int version_minor = 1;
  HttpHeaders headers;
};

// The standard reason phrase for a status code ("Unknown" when we have none).
std::string_view reason_phrase(int status);

}  // namespace trickle::net
