#include "trickle/media/media_error.hpp"

#include <fmt/format.h>

extern "C" {
#include <libavutil/error.h>
}

namespace trickle::media {

MediaError media_error_from_av(int av_code, std::string_view what) {
  char description[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(av_code, description, sizeof description);
  return MediaError{av_code, fmt::format("{}: {}", what, description)};
}

MediaError media_error(std::string_view what) { return MediaError{0, std::string{what}}; }

}  // namespace trickle::media
