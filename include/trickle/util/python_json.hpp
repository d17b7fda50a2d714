#pragma once

// JSON as Python's json module writes and reads it. Peers of upstream PyTrickle see json.dumps
// output (", " and ": " separators, non-ASCII escaped, keys in insertion order) and, for a body
// that does not parse, json.loads' exact message ("Expecting value: line 1 column 1 (char 0)"),
// which upstream puts verbatim into its HTTP error answers.

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

namespace trickle::util {

// Objects keep their keys in insertion order, like Python dicts.
using Json = nlohmann::ordered_json;

// json.dumps(value) with the default arguments.
std::string python_json_dumps(const Json& value);

// json.loads(text) for a UTF-8 body (as aiohttp's request.json() decodes it): the value, or the
// message of the exception Python would raise (JSONDecodeError, UnicodeDecodeError or
// RecursionError), e.g. "Expecting ',' delimiter: line 1 column 10 (char 9)". Positions count
// code points, as Python's do. NaN, Infinity and -Infinity are accepted, as json.loads does.
tl::expected<Json, std::string> python_json_loads(std::string_view text);

}  // namespace trickle::util

// Also in trickle::, the names a worker's author writes (docs/architecture.md, "Namespaces").
namespace trickle {
using util::Json;
using util::python_json_dumps;
using util::python_json_loads;
}  // namespace trickle
