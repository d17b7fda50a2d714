#include "trickle/api/stream_requests.hpp"

#include <cmath>
#include <vector>

#include <fmt/format.h>

#include "trickle/util/text.hpp"

namespace trickle::api {

namespace {

// ---- Python repr --------------------------------------------------------------------------

void repr_string(const std::string& s, std::string& out) {
  const bool has_single = s.find('\'') != std::string::npos;
  const bool has_double = s.find('"') != std::string::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  out += quote;
  for (unsigned char c : s) {
    if (c == static_cast<unsigned char>(quote) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n')
      out += "\\n";
    else if (c == '\r')
      out += "\\r";
    else if (c == '\t')
      out += "\\t";
    else if (c < 0x20 || c == 0x7f)
      out += fmt::format("\\x{:02x}", c);
    else
      out += static_cast<char>(c);  // printable non-ASCII stays as it is, as in Python 3
  }
  out += quote;
}

std::string repr_float(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  return util::Json(d).dump();  // shortest round trip, "1.0", "1e+20": Python's float repr
}

void repr_value(const util::Json& v, std::string& out) {
  switch (v.type()) {
    case util::Json::value_t::null: out += "None"; return;
    case util::Json::value_t::boolean: out += v.get<bool>() ? "True" : "False"; return;
    case util::Json::value_t::number_float: out += repr_float(v.get<double>()); return;
    case util::Json::value_t::number_integer:
    case util::Json::value_t::number_unsigned: out += v.dump(); return;
    case util::Json::value_t::string: repr_string(v.get<std::string>(), out); return;
    case util::Json::value_t::array: {
      out += '[';
      bool first = true;
      for (const auto& item : v) {
        if (!first) out += ", ";
        first = false;
        repr_value(item, out);
      }
      out += ']';
      return;
    }
    case util::Json::value_t::object: {
      out += '{';
      bool first = true;
      for (const auto& [key, item] : v.items()) {
        if (!first) out += ", ";
        first = false;
        repr_string(key, out);
        out += ": ";
        repr_value(item, out);
      }
      out += '}';
      return;
    }
    default: out += v.dump(); return;
  }
}

const char* python_type_name(const util::Json& v) {
  switch (v.type()) {
    case util::Json::value_t::null: return "NoneType";
    case util::Json::value_t::boolean: return "bool";
    case util::Json::value_t::number_float: return "float";
    case util::Json::value_t::number_integer:
    case util::Json::value_t::number_unsigned: return "int";
    case util::Json::value_t::string: return "str";
    case util::Json::value_t::array: return "list";
    case util::Json::value_t::object: return "dict";
    default: return "object";
  }
}

// pydantic-core shortens an input repr of more than 50 characters to its first 25 and last 24.
std::string truncated_repr(const util::Json& value) {
  const std::string repr = python_repr(value);
  std::vector<std::size_t> starts;  // code point boundaries
  for (std::size_t i = 0; i < repr.size(); ++i) {
    if ((static_cast<unsigned char>(repr[i]) & 0xC0) != 0x80) starts.push_back(i);
  }
  if (starts.size() <= 50) return repr;
  return repr.substr(0, starts[25]) + "..." + repr.substr(starts[starts.size() - 24]);
}

struct LineError {
  std::string location;  // empty for the model itself
  std::string message;
  std::string type;
  const util::Json* input;
};

std::string format_validation_error(const char* model, const std::vector<LineError>& errors) {
  std::string out = fmt::format("{} validation error{} for {}", errors.size(), errors.size() == 1 ? "" : "s", model);
  for (const auto& e : errors) {
    out += '\n';
    if (!e.location.empty()) out += e.location + '\n';
    out += fmt::format(
        "  {} [type={}, input_value={}, input_type={}]\n    For further information visit "
        "https://errors.pydantic.dev/{}/v/{}",
        e.message, e.type, truncated_repr(*e.input), python_type_name(*e.input), pydantic_version, e.type);
  }
  return out;
}

// ---- Python int() of a JSON value --------------------------------------------------------

std::optional<long long> python_int(const util::Json& v) {
  if (v.is_boolean()) return v.get<bool>() ? 1 : 0;
  if (v.is_number_integer() || v.is_number_unsigned()) {
    if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) return INT64_MAX;
    return v.get<long long>();
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (!std::isfinite(d)) return std::nullopt;
    const double t = std::trunc(d);
    if (t >= 9.2e18) return INT64_MAX;
    if (t <= -9.2e18) return INT64_MIN;
    return static_cast<long long>(t);
  }
  if (!v.is_string()) return std::nullopt;
  // int(str): surrounding whitespace, a sign, digits with single underscores between them.
  const std::string& s = v.get_ref<const std::string&>();
  std::size_t b = 0, e = s.size();
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  while (b < e && space(s[b])) ++b;
  while (e > b && space(s[e - 1])) --e;
  bool negative = false;
  if (b < e && (s[b] == '+' || s[b] == '-')) negative = s[b++] == '-';
  if (b == e) return std::nullopt;
  long long value = 0;
  bool last_digit = false;
  for (std::size_t i = b; i < e; ++i) {
    if (s[i] == '_') {
      if (!last_digit || i + 1 == e) return std::nullopt;
      last_digit = false;
      continue;
    }
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    last_digit = true;
    value = value > INT64_MAX / 10 - 1 ? INT64_MAX : value * 10 + (s[i] - '0');
  }
  return negative ? -value : value;
}

}  // namespace

std::string python_repr(const util::Json& value) {
  std::string out;
  repr_value(value, out);
  return out;
}

tl::expected<util::Json, std::string> validate_stream_params(const util::Json& params) {
  if (!params.is_object()) return tl::unexpected(std::string("Params must be a dictionary"));
  util::Json result = params;
  const bool has_width = result.contains("width"), has_height = result.contains("height");
  if (has_width != has_height)
    return tl::unexpected(std::string("Both 'width' and 'height' must be provided together"));
  if (has_width) {
    for (const char* key : {"width", "height"}) {
      auto value = python_int(result[key]);
      if (!value || *value <= 0)
        return tl::unexpected(std::string("Width and height must be valid integers or integer strings"));
      result[key] = *value;
    }
  }
  if (result.contains("max_framerate")) {
    auto value = python_int(result["max_framerate"]);
    if (!value) return tl::unexpected(std::string("max_framerate must be a valid integer"));
    if (*value <= 0) return tl::unexpected(std::string("max_framerate must be a positive integer"));
    if (*value > 60) return tl::unexpected(std::string("max_framerate cannot exceed 60 FPS"));
    result["max_framerate"] = *value;
  }
  if (result.contains("detect_out_resolution")) {
    util::Json& value = result["detect_out_resolution"];
    if (value.is_boolean()) {
    } else if (value.is_string()) {
      const std::string text = util::ascii_lowercase(value.get<std::string>());
      if (text == "true" || text == "1" || text == "yes")
        value = true;
      else if (text == "false" || text == "0" || text == "no")
        value = false;
      else
        return tl::unexpected(std::string("detect_out_resolution must be a boolean value"));
    } else if (value.is_number_integer() || value.is_number_unsigned()) {
      value = value.get<long long>() != 0;
    } else {
      return tl::unexpected(std::string("detect_out_resolution must be a boolean value"));
    }
  }
  return result;
}

tl::expected<StreamStartRequest, std::string> validate_stream_start_request(const util::Json& body) {
  if (!body.is_object()) {
    return tl::unexpected(format_validation_error(
        "StreamStartRequest",
        {LineError{"", "Input should be a valid dictionary or instance of StreamStartRequest", "model_type", &body}}));
  }
  StreamStartRequest request;
  std::vector<LineError> errors;
  auto optional_string = [&](const char* key, std::optional<std::string>& field) {
    if (!body.contains(key) || body[key].is_null()) return;
    if (!body[key].is_string()) {
      errors.push_back({key, "Input should be a valid string", "string_type", &body[key]});
      return;
    }
    field = body[key].get<std::string>();
  };
  optional_string("subscribe_url", request.subscribe_url);
  optional_string("publish_url", request.publish_url);
  optional_string("control_url", request.control_url);
  optional_string("events_url", request.events_url);
  optional_string("data_url", request.data_url);
  if (!body.contains("gateway_request_id")) {
    errors.push_back({"gateway_request_id", "Field required", "missing", &body});
  } else if (!body["gateway_request_id"].is_string()) {
    errors.push_back(
        {"gateway_request_id", "Input should be a valid string", "string_type", &body["gateway_request_id"]});
  } else {
    request.gateway_request_id = body["gateway_request_id"].get<std::string>();
  }
  // Keep the converted value's storage alive for the error's input reference.
  if (body.contains("params") && !body["params"].is_null()) {
    const util::Json& params = body["params"];
    if (!params.is_object()) {
      errors.push_back({"params", "Input should be a valid dictionary", "dict_type", &params});
    } else if (auto converted = validate_stream_params(params); !converted) {
      errors.push_back({"params", "Value error, " + converted.error(), "value_error", &params});
    } else {
      request.params = std::move(*converted);
    }
  }
  if (!errors.empty()) return tl::unexpected(format_validation_error("StreamStartRequest", errors));
  return request;
}

tl::expected<util::Json, std::string> validate_params_update_request(const util::Json& body) {
  if (!body.is_object()) {
    return tl::unexpected(format_validation_error(
        "StreamParamsUpdateRequest",
        {LineError{"", "Input should be a valid dictionary or instance of StreamParamsUpdateRequest", "model_type",
                   &body}}));
  }
  return validate_stream_params(body);
}

}  // namespace trickle::api
