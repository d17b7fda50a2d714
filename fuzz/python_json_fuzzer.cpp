// json.loads and json.dumps as Python has them: any text must either parse or give a message
// (never crash, never throw), and whatever parses must print and parse back to the same value.

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "trickle/util/python_json.hpp"

using namespace trickle::util;

static void check(bool ok) {
  if (!ok) std::abort();
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto value = python_json_loads(text);
  if (!value) {
    check(!value.error().empty());
    return 0;
  }
  auto printed = python_json_dumps(*value);
  auto again = python_json_loads(printed);
  check(again.has_value());
  check(python_json_dumps(*again) == printed);
  return 0;
}
