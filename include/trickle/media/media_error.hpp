#pragma once

// The error value of the media layer: libav failures are expected outcomes of bad input, so they
// travel as values (tl::expected<T, MediaError>) instead of exceptions.

#include <string>
#include <string_view>

namespace trickle::media {

struct MediaError {
  // The negative AVERROR code libav returned, or 0 when the failure was detected by our code.
  int av_code = 0;
  std::string message;
};

// "what: <libav's description of av_code>".
MediaError media_error_from_av(int av_code, std::string_view what);

// For failures that did not come from a libav call.
MediaError media_error(std::string_view what);

}  // namespace trickle::media
