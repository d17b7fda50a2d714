// The scanner follows CPython's json decoder (Modules/_json.c in 3.11) rule for rule, because
// the point is to fail where, and with the message, Python fails.

#include "trickle/util/python_json.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <fmt/format.h>

namespace trickle::util {

namespace {

// ---- json.dumps ---------------------------------------------------------------------------

void dump_value(const Json& value, std::string& out) {
  switch (value.type()) {
    case Json::value_t::object: {
      out += '{';
      bool first = true;
      for (const auto& [key, item] : value.items()) {
        if (!first) out += ", ";
        first = false;
        out += Json(key).dump(-1, ' ', true);
        out += ": ";
        dump_value(item, out);
      }
      out += '}';
      return;
    }
    case Json::value_t::array: {
      out += '[';
      bool first = true;
      for (const auto& item : value) {
        if (!first) out += ", ";
        first = false;
        dump_value(item, out);
      }
      out += ']';
      return;
    }
    case Json::value_t::number_float: {
      const double d = value.get<double>();
      if (std::isnan(d))
        out += "NaN";
      else if (std::isinf(d))
        out += d > 0 ? "Infinity" : "-Infinity";
      else
        out += value.dump();  // shortest round-trip form, as Python's float repr
      return;
    }
    default: out += value.dump(-1, ' ', true);
  }
}

// ---- UTF-8 → code points, with Python's UnicodeDecodeError messages ------------------------

tl::expected<std::u32string, std::string> decode_utf8(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  auto fail = [&](std::size_t at, const char* reason) {
    return tl::unexpected(fmt::format("'utf-8' codec can't decode byte 0x{:02x} in position {}: {}",
                                      static_cast<unsigned char>(text[at]), at, reason));
  };
  for (std::size_t i = 0; i < text.size();) {
    const auto b0 = static_cast<unsigned char>(text[i]);
    if (b0 < 0x80) {
      out.push_back(b0);
      ++i;
      continue;
    }
    int length = 0;
    char32_t cp = 0;
    unsigned char low = 0x80, high = 0xBF;  // allowed range of the second byte
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      length = 2;
      cp = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      length = 3;
      cp = b0 & 0x0F;
      if (b0 == 0xE0) low = 0xA0;
      if (b0 == 0xED) high = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      length = 4;
      cp = b0 & 0x07;
      if (b0 == 0xF0) low = 0x90;
      if (b0 == 0xF4) high = 0x8F;
    } else {
      return fail(i, "invalid start byte");
    }
    for (int k = 1; k < length; ++k) {
      if (i + k >= text.size()) return fail(i, "unexpected end of data");
      const auto b = static_cast<unsigned char>(text[i + k]);
      const unsigned char lo = k == 1 ? low : 0x80, hi = k == 1 ? high : 0xBF;
      if (b < lo || b > hi) return fail(i, "invalid continuation byte");
      cp = (cp << 6) | (b & 0x3F);
    }
    out.push_back(cp);
    i += static_cast<std::size_t>(length);
  }
  return out;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// ---- json.loads -----------------------------------------------------------------------------

// Python's StopIteration(idx) inside the scanner: becomes "Expecting value" at idx.
struct StopIteration {
  std::size_t index;
};
struct DecodeError {
  std::string message;  // complete, position included
};

class Scanner {
 public:
  explicit Scanner(const std::u32string& s) : s_(s) {}

  Json decode() {
    std::size_t idx = skip_whitespace(0);
    Json value;
    try {
      value = scan_once(idx, idx);
    } catch (const StopIteration& stop) {
      throw error("Expecting value", stop.index);
    }
    idx = skip_whitespace(idx);
    if (idx != s_.size()) throw error("Extra data", idx);
    return value;
  }

 private:
  static constexpr int max_depth = 1000;  // Python's default recursion limit

  static bool is_whitespace(char32_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
  std::size_t skip_whitespace(std::size_t idx) const {
    while (idx < s_.size() && is_whitespace(s_[idx])) ++idx;
    return idx;
  }
  bool at(std::size_t idx, std::u32string_view word) const {
    return s_.size() >= idx + word.size() && std::u32string_view(s_).substr(idx, word.size()) == word;
  }

  DecodeError error(std::string_view message, std::size_t pos) const {
    std::size_t line = 1, last_newline = std::string::npos;
    for (std::size_t i = 0; i < pos && i < s_.size(); ++i) {
      if (s_[i] == '\n') {
        ++line;
        last_newline = i;
      }
    }
    const std::size_t column = last_newline == std::string::npos ? pos + 1 : pos - last_newline;
    return DecodeError{fmt::format("{}: line {} column {} (char {})", message, line, column, pos)};
  }

  Json scan_once(std::size_t idx, std::size_t& end) {
    if (idx >= s_.size()) throw StopIteration{idx};
    switch (s_[idx]) {
      case '"': return Json(scan_string(idx + 1, end));
      case '{': return parse_object(idx + 1, end);
      case '[': return parse_array(idx + 1, end);
      case 'n':
        if (at(idx, U"null")) {
          end = idx + 4;
          return Json(nullptr);
        }
        break;
      case 't':
        if (at(idx, U"true")) {
          end = idx + 4;
          return Json(true);
        }
        break;
      case 'f':
        if (at(idx, U"false")) {
          end = idx + 5;
          return Json(false);
        }
        break;
      case 'N':
        if (at(idx, U"NaN")) {
          end = idx + 3;
          return Json(std::numeric_limits<double>::quiet_NaN());
        }
        break;
      case 'I':
        if (at(idx, U"Infinity")) {
          end = idx + 8;
          return Json(std::numeric_limits<double>::infinity());
        }
        break;
      case '-':
        if (at(idx, U"-Infinity")) {
          end = idx + 9;
          return Json(-std::numeric_limits<double>::infinity());
        }
        break;
      default: break;
    }
    return match_number(idx, end);
  }

  Json match_number(std::size_t start, std::size_t& end) {
    std::size_t idx = start;
    const std::size_t n = s_.size();
    auto digit = [&](std::size_t i) { return i < n && s_[i] >= '0' && s_[i] <= '9'; };
    if (idx < n && s_[idx] == '-') {
      ++idx;
      if (idx >= n) throw StopIteration{start};
    }
    if (idx < n && s_[idx] >= '1' && s_[idx] <= '9') {
      ++idx;
      while (digit(idx)) ++idx;
    } else if (idx < n && s_[idx] == '0') {
      ++idx;
    } else {
      throw StopIteration{start};
    }
    bool is_float = false;
    if (idx + 1 < n && s_[idx] == '.' && digit(idx + 1)) {
      is_float = true;
      idx += 2;
      while (digit(idx)) ++idx;
    }
    if (idx + 1 < n && (s_[idx] == 'e' || s_[idx] == 'E')) {
      const std::size_t e_start = idx++;
      if (idx + 1 < n && (s_[idx] == '-' || s_[idx] == '+')) ++idx;
      while (digit(idx)) ++idx;
      if (digit(idx - 1))
        is_float = true;
      else
        idx = e_start;
    }
    std::string text;
    for (std::size_t i = start; i < idx; ++i) text += static_cast<char>(s_[i]);
    end = idx;
    if (!is_float) {
      // Python ints are unbounded; past 64 bits we keep the nearest double.
      try {
        std::size_t used = 0;
        const long long v = std::stoll(text, &used);
        if (used == text.size()) return Json(v);
      } catch (const std::out_of_range&) {
      }
    }
    return Json(std::strtod(text.c_str(), nullptr));
  }

  // Starts after the opening quote; `end` is set after the closing one.
  std::string scan_string(std::size_t after_quote, std::size_t& end) {
    const std::size_t begin = after_quote - 1;
    const std::size_t n = s_.size();
    std::string out;
    std::size_t next = after_quote;
    for (;;) {
      while (next < n && s_[next] != '"' && s_[next] != '\\') {
        if (s_[next] <= 0x1f) throw error("Invalid control character at", next);
        append_utf8(out, s_[next]);
        ++next;
      }
      if (next >= n) throw error("Unterminated string starting at", begin);
      if (s_[next] == '"') {
        end = next + 1;
        return out;
      }
      ++next;  // past the backslash
      if (next >= n) throw error("Unterminated string starting at", begin);
      const char32_t c = s_[next];
      if (c != 'u') {
        char32_t decoded = 0;
        switch (c) {
          case '"': decoded = '"'; break;
          case '\\': decoded = '\\'; break;
          case '/': decoded = '/'; break;
          case 'b': decoded = '\b'; break;
          case 'f': decoded = '\f'; break;
          case 'n': decoded = '\n'; break;
          case 'r': decoded = '\r'; break;
          case 't': decoded = '\t'; break;
          default: throw error("Invalid \\escape", next - 1);
        }
        append_utf8(out, decoded);
        ++next;
        continue;
      }
      char32_t cp = read_hex4(next + 1);
      next += 5;
      if (cp >= 0xD800 && cp <= 0xDBFF && next + 6 <= n && s_[next] == '\\' && s_[next + 1] == 'u') {
        const char32_t low = read_hex4(next + 2);
        if (low >= 0xDC00 && low <= 0xDFFF) {
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          next += 6;
        }
      }
      // A lone surrogate is a valid Python str but not UTF-8: keep U+FFFD in its place.
      append_utf8(out, cp >= 0xD800 && cp <= 0xDFFF ? 0xFFFD : cp);
    }
  }

  // The 4 hex digits at idx (idx - 1 is the 'u').
  char32_t read_hex4(std::size_t idx) const {
    // Python wants the 4 digits *and* one more character (a string cannot end there).
    if (idx + 4 >= s_.size()) throw error("Invalid \\uXXXX escape", idx - 1);
    char32_t value = 0;
    for (std::size_t i = idx; i < idx + 4; ++i) {
      const char32_t c = s_[i];
      int d;
      if (c >= '0' && c <= '9')
        d = static_cast<int>(c - '0');
      else if (c >= 'a' && c <= 'f')
        d = static_cast<int>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        d = static_cast<int>(c - 'A' + 10);
      else
        throw error("Invalid \\uXXXX escape", idx - 1);
      value = value * 16 + static_cast<char32_t>(d);
    }
    return value;
  }

  struct DepthGuard {
    int& depth;
    DepthGuard(int& d, const char* what) : depth(d) {
      if (++depth > max_depth) {
        throw DecodeError{
            fmt::format("maximum recursion depth exceeded while decoding a JSON {} from a unicode string", what)};
      }
    }
    ~DepthGuard() { --depth; }
  };

  Json parse_object(std::size_t idx, std::size_t& end) {
    DepthGuard guard(depth_, "object");
    Json object = Json::object();
    const std::size_t n = s_.size();
    idx = skip_whitespace(idx);
    if (idx >= n || s_[idx] != '}') {
      for (;;) {
        if (idx >= n || s_[idx] != '"') throw error("Expecting property name enclosed in double quotes", idx);
        std::size_t next = 0;
        std::string key = scan_string(idx + 1, next);
        idx = skip_whitespace(next);
        if (idx >= n || s_[idx] != ':') throw error("Expecting ':' delimiter", idx);
        idx = skip_whitespace(idx + 1);
        Json value = scan_once(idx, next);
        object[key] = std::move(value);  // a repeated key keeps its first place, last value
        idx = skip_whitespace(next);
        if (idx < n && s_[idx] == '}') break;
        if (idx >= n || s_[idx] != ',') throw error("Expecting ',' delimiter", idx);
        idx = skip_whitespace(idx + 1);
      }
    }
    end = idx + 1;
    return object;
  }

  Json parse_array(std::size_t idx, std::size_t& end) {
    DepthGuard guard(depth_, "array");
    Json array = Json::array();
    const std::size_t n = s_.size();
    idx = skip_whitespace(idx);
    if (idx >= n || s_[idx] != ']') {
      for (;;) {
        std::size_t next = 0;
        array.push_back(scan_once(idx, next));
        idx = skip_whitespace(next);
        if (idx < n && s_[idx] == ']') break;
        if (idx >= n || s_[idx] != ',') throw error("Expecting ',' delimiter", idx);
        idx = skip_whitespace(idx + 1);
      }
    }
    end = idx + 1;
    return array;
  }

  const std::u32string& s_;
  int depth_ = 0;
};

}  // namespace

std::string python_json_dumps(const Json& value) {
  std::string out;
  dump_value(value, out);
  return out;
}

tl::expected<Json, std::string> python_json_loads(std::string_view text) {
  auto decoded = decode_utf8(text);
  if (!decoded) return tl::unexpected(decoded.error());
  if (!decoded->empty() && (*decoded)[0] == 0xFEFF) {
    return tl::unexpected(std::string("Unexpected UTF-8 BOM (decode using utf-8-sig): line 1 column 1 (char 0)"));
  }
  try {
    return Scanner(*decoded).decode();
  } catch (const DecodeError& e) {
    return tl::unexpected(e.message);
  }
}

}  // namespace trickle::util
