#pragma once

// Small text helpers shared by the runtime and the REST layer.

#include <cctype>
#include <exception>
#include <string>

namespace trickle::util {

// ASCII lower case (what Python's str.lower() does for the ASCII inputs we compare).
inline std::string ascii_lowercase(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
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
