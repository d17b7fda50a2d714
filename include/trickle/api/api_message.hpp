#pragma once

// A REST exchange as plain values, so the handler core does not depend on the HTTP transport:
// any server (ours, or one embedded elsewhere) turns its request into an ApiRequest and writes
// the ApiResponse back.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "trickle/util/python_json.hpp"

namespace trickle::api {

struct ApiRequest {
  std::string method;        // "GET", "POST", "HEAD", ...
  std::string path;          // without the query
  std::string content_type;  // the Content-Type header as sent; empty when absent
  std::string body;
  // The body was over the server's limit and was not read: a handler that reads it answers as
  // upstream's aiohttp does when request.json() raises "Request Entity Too Large".
  bool body_too_large = false;
  std::string authorization;  // the Authorization header as sent; empty when absent
  // The X-Stream-Id header as sent (docs/many_streams.md); nullopt when absent, as an empty one
  // is refused.
  std::optional<std::string> stream_id = std::nullopt;
};

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // beyond Content-Type
};

// aiohttp's web.json_response: json.dumps body, application/json; charset=utf-8.
inline ApiResponse json_response(const util::Json& body, int status = 200) {
  return ApiResponse{status, "application/json; charset=utf-8", util::python_json_dumps(body), {}};
}

// aiohttp's plain error pages ("404: Not Found").
inline ApiResponse text_response(int status, std::string text) {
  return ApiResponse{status, "text/plain; charset=utf-8", std::move(text), {}};
}

}  // namespace trickle::api
