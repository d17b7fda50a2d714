#pragma once

// The token an orchestrator sends as "Authorization: Bearer <token>" when the worker's capability
// was registered with one (go-livepeer's BYOC `token`). Compared in constant time: both sides are
// hashed (SHA-256) first, so neither the token's value nor its length shows in how long a refusal
// takes. The token itself is never logged or reported.

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace trickle::net {

class BearerToken {
 public:
  // `token` must not be empty.
  explicit BearerToken(std::string_view token);

  // nullopt when `authorization` (the header's value; empty when absent) carries the token;
  // otherwise why not, in words safe to log.
  std::optional<std::string> refusal(std::string_view authorization) const;

 private:
  std::array<unsigned char, 32> digest_{};
};

}  // namespace trickle::net
