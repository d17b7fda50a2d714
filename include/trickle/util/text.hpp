#pragma once

// Small text helpers shared by the runtime and the REST layer.

#include <cctype>
#include <exception>
#include <string>
#include <string_view>

namespace trickle::util {

// ASCII lower case (what Python's str.lower() does for the ASCII inputs we compare).
inline std::string ascii_lowercase(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// `text` without the spaces and tabs around it (HTTP's optional whitespace).
inline std::string_view trim_blanks(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

// The message of a captured exception, for logs and error answers.
inline std::string exception_message(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

}  // namespace trickle::util
