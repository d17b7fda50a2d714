#pragma once

// Upstream PyTrickle's request models (pytrickle.api, pydantic v2) as C++ validation: the same
// rules, conversions and messages, down to the text of str(ValidationError), which upstream puts
// into its HTTP answers. The pydantic version in the error links is the one upstream 0.1.6
// installs today.

#include <optional>
#include <string>

#include <tl/expected.hpp>

#include "trickle/util/python_json.hpp"

namespace trickle::api {

inline constexpr const char* pydantic_version = "2.14";

struct StreamStartRequest {
  std::optional<std::string> subscribe_url, publish_url, control_url, events_url, data_url;
  std::string gateway_request_id;
  std::optional<util::Json> params;  // validated and converted (width/height/max_framerate ints, ...)
};

// StreamStartRequest.model_validate(body): the request, or str(ValidationError).
tl::expected<StreamStartRequest, std::string> validate_stream_start_request(const util::Json& body);

// StreamParamsUpdateRequest.validate_params(params) for a JSON object: the converted copy, or the
// ValueError's message.
tl::expected<util::Json, std::string> validate_stream_params(const util::Json& params);

// StreamParamsUpdateRequest.model_validate(body).model_dump(): the converted dict, or the message
// (a plain ValueError's for a bad value, str(ValidationError) for a body that is not an object).
tl::expected<util::Json, std::string> validate_params_update_request(const util::Json& body);

// Python's repr() of the value json.loads would have produced ({'a': 1, 'b': None}).
std::string python_repr(const util::Json& value);

}  // namespace trickle::api
