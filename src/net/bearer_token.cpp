#include "trickle/net/bearer_token.hpp"

#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "trickle/util/text.hpp"

namespace trickle::net {

namespace {

std::array<unsigned char, 32> sha256(std::string_view text) {
  std::array<unsigned char, 32> digest{};
  unsigned int size = 0;
  if (EVP_Digest(text.data(), text.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1 || size != digest.size()) {
    throw std::runtime_error("SHA-256 is unavailable");
  }
  return digest;
}

}  // namespace

BearerToken::BearerToken(std::string_view token) {
  if (token.empty()) throw std::invalid_argument("an empty token checks nothing");
  digest_ = sha256(token);
}

std::optional<std::string> BearerToken::refusal(std::string_view authorization) const {
  authorization = util::trim_blanks(authorization);
  if (authorization.empty()) return "no Authorization header";
  const auto space = authorization.find(' ');
  const std::string_view scheme = authorization.substr(0, space);
  if (util::ascii_lowercase(std::string(scheme)) != "bearer") return "not a Bearer token";
  const std::string_view credentials =
      space == std::string_view::npos ? std::string_view() : authorization.substr(space + 1);
  const auto presented = sha256(util::trim_blanks(credentials));
  if (CRYPTO_memcmp(presented.data(), digest_.data(), digest_.size()) != 0) return "wrong token";
  return std::nullopt;
}

}  // namespace trickle::net
