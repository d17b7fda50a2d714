// The REST request validators (/stream/start, /stream/params, the control channel's updates) on
// any JSON a client can send: each either accepts the value or gives pydantic's message, and
// python_repr prints anything.

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "trickle/api/stream_requests.hpp"

using namespace trickle;

static void check(bool ok) {
  if (!ok) std::abort();
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto body = util::python_json_loads(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!body) return 0;
  auto start = api::validate_stream_start_request(*body);
  check(start.has_value() || !start.error().empty());
  auto params = api::validate_stream_params(*body);
  check(params.has_value() || !params.error().empty());
  auto update = api::validate_params_update_request(*body);
  check(update.has_value() || !update.error().empty());
  api::python_repr(*body);
  return 0;
}
