// The input path of a stream: MPEG-TS bytes as a trickle segment brings them → the demuxer →
// whole-frame packets → the decoders → tensors. On garbage, truncated and spliced segments it must
// end with frames or a clear error, never crash, hang or overrun (ASan/UBSan watch libav's
// callbacks into our code and our handling of what it gives back).

#include <cstdint>
#include <vector>

extern "C" {
#include <libavutil/log.h>
}
#include <spdlog/spdlog.h>

#include "trickle/media/byte_stream.hpp"
#include "trickle/media/stream_decoder.hpp"

using namespace trickle::media;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  av_log_set_level(AV_LOG_QUIET);
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  StreamDecoderOptions options;
  options.video.width = 32;
  options.video.height = 32;
  options.video.dtype = trickle::tensor::DType::uint8;
  options.max_framerate = [] { return 1000; };
  options.thread_count = 1;
  options.drain_at_end = true;
  // The bytes arrive as a live segment does: queued, then the end (the stream is closed).
  ByteStream stream(size + 1);
  if (size) stream.push(std::vector<std::uint8_t>(data, data + size));
  stream.close();
  std::size_t frames = 0;
  StreamDecoderCallbacks callbacks;
  callbacks.on_video = [&](DecodedVideoFrame) { ++frames; };
  callbacks.on_audio = [&](DecodedAudioFrame) { ++frames; };
  StreamDecoder decoder(options, callbacks);
  auto result = decoder.run(stream);
  if (!result) (void)result.error().message;
  return 0;
}
