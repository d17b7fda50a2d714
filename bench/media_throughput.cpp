// bench/media_throughput: our media engine's decode and encode throughput next to the ffmpeg CLI
// doing the same work on the same clip, in the same run.
//
// The clip (testsrc2, 1280x720, 30 fps, H.264 with a 2 s GOP and no B-frames, MPEG-TS) is made
// with the ffmpeg CLI in a temporary directory, so every machine measures the same content.
//
// - decode: StreamDecoder -> 512x512 [1,H,W,3] tensors (cover-scale + centre crop, the worker's
//   defaults) with the frame-rate limit lifted so every frame comes out, vs `ffmpeg -i clip.ts
//   -vf scale(cover),crop -pix_fmt rgba -f null -`. Our float32 k/255 output (and dropping
//   alpha) is extra work ffmpeg does not do; the uint8 row shows what it costs.
// - encode: frames pre-decoded to 512x512 RGB in memory (not timed), then StreamEncoder (video
//   only, segments to a sink that counts and discards) vs `ffmpeg -f rawvideo -i frames.rgb` with
//   the x264 settings of src/media/stream_encoder.cpp.
//
// ffmpeg is timed as a whole process (wall clock spawn-to-exit, so its start-up is included) and
// its CPU time comes from wait4(); ours is timed around the call, CPU from getrusage(SELF).

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "trickle/media/segment_sink.hpp"
#include "trickle/media/stream_decoder.hpp"
#include "trickle/media/stream_encoder.hpp"
#include "trickle/tensor/tensor.hpp"

extern "C" {
#include <libavutil/log.h>
}

extern char** environ;

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Config {
  int runs = 3;
  int seconds = 10;
  int size = 512;  // the worker's tensor (and so output) size
  std::vector<int> decode_threads{1, 2};
  std::string ffmpeg = "ffmpeg";
  double quiet_wait_s = 10;  // before each run, wait up to this long for other load to drop ...
  double quiet_cores = 0.3;  // ... below this many busy cores
  bool keep = false;
};

// One timed run of either side.
struct Sample {
  double wall_s = 0;
  double cpu_s = 0;
  double peak_rss_mib = 0;  // ffmpeg: its VmHWM; ours: VmHWM growth during the run (see below)
};

struct Row {
  std::string work;
  std::string threads;
  std::vector<Sample> ffmpeg;
  std::vector<Sample> ours;
  std::int64_t frames = 0;
  std::vector<double> background_cores;  // other processes' load just before each run
};

double seconds_of(const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; }

double self_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return seconds_of(usage.ru_utime) + seconds_of(usage.ru_stime);
}

double proc_status_mib(const char* field, const std::string& process = "self") {
  std::ifstream status("/proc/" + process + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind(field, 0) == 0) return std::stod(line.substr(std::strlen(field))) / 1024.0;
  }
  return 0;
}

// Cores busy (all processes; we are idle meanwhile) over `window`, from /proc/stat's first line.
double busy_cores(std::chrono::milliseconds window) {
  auto read_jiffies = [] {
    std::ifstream stat("/proc/stat");
    std::string cpu;
    long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0;
    stat >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq;
    return std::pair{user + nice + system + irq + softirq, idle + iowait};
  };
  const auto [busy_before, idle_before] = read_jiffies();
  std::this_thread::sleep_for(window);
  const auto [busy_after, idle_after] = read_jiffies();
  const double total = static_cast<double>(busy_after - busy_before + idle_after - idle_before);
  return total > 0 ? std::thread::hardware_concurrency() * (busy_after - busy_before) / total : 0;
}

// This machine is shared (builds run beside us): wait, bounded, for a quiet moment.
double wait_for_quiet(const Config& cfg) {
  const auto until = Clock::now() + std::chrono::duration<double>(cfg.quiet_wait_s);
  double busy = busy_cores(std::chrono::milliseconds(200));
  while (busy > cfg.quiet_cores && Clock::now() < until) busy = busy_cores(std::chrono::milliseconds(500));
  return busy;
}

// Our process holds the pre-decoded frames and the previous rows' leftovers, so its absolute
// peak says little; resetting the high-water mark (Linux >= 4.0) and reporting how far it rose
// above the resident size at the start gives what this one run needed.
void reset_peak_rss() { std::ofstream("/proc/self/clear_refs") << "5"; }

Sample time_ours(const std::function<void()>& work) {
  reset_peak_rss();
  const double rss_before = proc_status_mib("VmRSS:");
  const double cpu_before = self_cpu_seconds();
  const auto start = Clock::now();
  work();
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  return {wall, self_cpu_seconds() - cpu_before, proc_status_mib("VmHWM:") - rss_before};
}

// Runs a command to completion; its stdout is discarded, its stderr (loglevel error) passes.
Sample run_process(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  const auto start = Clock::now();
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) throw std::runtime_error(fmt::format("cannot start {}", args[0]));
  // Not wait4's ru_maxrss: posix_spawn's child shares our memory until exec, and Linux carries
  // that high-water mark (our pre-decoded frames) over into the child's. The child's own VmHWM
  // only grows, so sampling it until the exit misses at most the last few milliseconds' growth.
  std::atomic<bool> exited{false};
  std::atomic<double> peak_rss_mib{0};
  std::thread rss_sampler([&] {
    while (!exited) {
      if (double hwm = proc_status_mib("VmHWM:", std::to_string(pid)); hwm > 0) peak_rss_mib = hwm;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  int status = 0;
  rusage usage{};
  const pid_t waited = wait4(pid, &status, 0, &usage);
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  exited = true;
  rss_sampler.join();
  if (waited != pid) throw std::runtime_error("wait4 failed");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error(fmt::format("'{}' failed", fmt::join(args, " ")));
  }
  return {wall, seconds_of(usage.ru_utime) + seconds_of(usage.ru_stime), peak_rss_mib};
}

std::vector<std::string> ffmpeg_base(const Config& cfg) {
  return {cfg.ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y"};
}

void make_clip(const Config& cfg, const fs::path& clip) {
  auto args = ffmpeg_base(cfg);
  args.insert(args.end(),
              {"-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30", "-t", std::to_string(cfg.seconds), "-c:v",
               "libx264", "-g", "60", "-bf", "0", "-pix_fmt", "yuv420p", "-f", "mpegts", clip.string()});
  run_process(args);
}

class DiscardingSink : public trickle::media::SegmentSink {
 public:
  void on_segment_begin(int64_t) override {}
  void on_segment_data(std::span<const uint8_t> bytes) override { bytes_ += bytes.size(); }
  void on_segment_end(int64_t) override { ++segments_; }
  std::size_t bytes() const { return bytes_; }
  std::int64_t segments() const { return segments_; }

 private:
  std::size_t bytes_ = 0;
  std::int64_t segments_ = 0;
};

struct DecodeSetup {
  trickle::tensor::DType dtype = trickle::tensor::DType::float32;
  int threads = 1;
  trickle::media::DecoderThreading threading = trickle::media::DecoderThreading::slice;
  // What ffmpeg's scaler writes. rgba is what our converter has libswscale write (upstream's
  // path); libswscale's scaled rgb24 writer is much slower, which would flatter us.
  std::string ffmpeg_pix_fmt = "rgba";
};

// Decodes the whole clip; `keep` (optional) receives every tensor.
std::int64_t decode_ours(const Config& cfg, const fs::path& clip, const DecodeSetup& setup,
                         std::vector<trickle::tensor::Tensor>* keep = nullptr) {
  trickle::media::StreamDecoderOptions options;
  options.video = {cfg.size, cfg.size, setup.dtype, true};
  // Values > 0 are frames per second of media time: 1000 lets every 30 fps frame through.
  options.max_framerate = [] { return 1000; };
  options.thread_count = setup.threads;
  options.threading = setup.threading;
  // Frame threads hold frames back until the end-of-stream flush; count them like ffmpeg does.
  options.drain_at_end = true;
  if (keep) options.tensor_pool_idle_buffers = 0;  // kept tensors never return to the pool
  std::int64_t frames = 0;
  trickle::media::StreamDecoderCallbacks callbacks;
  callbacks.on_video = [&](trickle::media::DecodedVideoFrame frame) {
    ++frames;
    if (keep) keep->push_back(std::move(frame.tensor));
  };
  trickle::media::StreamDecoder decoder(options, std::move(callbacks));
  if (auto done = decoder.run(clip.string()); !done) {
    throw std::runtime_error("our decoder failed: " + done.error().message);
  }
  return frames;
}

std::vector<std::string> decode_ffmpeg_args(const Config& cfg, const fs::path& clip, const DecodeSetup& setup) {
  const auto threads = std::to_string(setup.threads);
  auto args = ffmpeg_base(cfg);
  args.insert(args.end(), {"-threads", threads, "-thread_type",
                           setup.threading == trickle::media::DecoderThreading::slice ? "slice" : "frame", "-i",
                           clip.string(), "-an", "-filter_threads", threads, "-vf",
                           // Our converter's geometry and scaler: bilinear cover-scale, centre crop.
                           fmt::format("scale={0}:{0}:force_original_aspect_ratio=increase:"
                                       "flags=bilinear,crop={0}:{0}",
                                       cfg.size),
                           "-pix_fmt", setup.ffmpeg_pix_fmt, "-fps_mode", "passthrough", "-f", "null", "-"});
  return args;
}

// Encodes `frames` at 30 fps; the settings are StreamEncoder's own (libx264 superfast +
// zerolatency, CRF 23, no B-frames, an IDR forced every 2 s of media time, x264's auto threads).
std::int64_t encode_ours(const std::vector<trickle::tensor::Tensor>& frames) {
  DiscardingSink sink;
  trickle::media::StreamEncoderOptions options;
  options.with_audio = false;
  options.audio_codec = "";
  trickle::media::StreamEncoder encoder(options, sink);
  for (std::size_t i = 0; i < frames.size(); ++i) {
    if (auto sent = encoder.encode_video(frames[i], static_cast<std::int64_t>(i), {1, 30}); !sent) {
      throw std::runtime_error("our encoder failed: " + sent.error().message);
    }
  }
  if (auto done = encoder.finish(); !done) {
    throw std::runtime_error("our encoder failed: " + done.error().message);
  }
  // A run that dropped frames or wrote nothing would look fast for the wrong reason.
  if (encoder.stats().video_packets_out != static_cast<std::int64_t>(frames.size()) || sink.bytes() == 0 ||
      sink.segments() != encoder.stats().segments) {
    throw std::runtime_error(fmt::format("our encoder: {} of {} frames out, {} bytes in {} segments",
                                         encoder.stats().video_packets_out, frames.size(), sink.bytes(),
                                         sink.segments()));
  }
  return encoder.stats().video_packets_out;
}

// The same x264 configuration as src/media/stream_encoder.cpp's open_video(), spelled for the CLI:
// gop_size 1<<30 with key frames forced every 2 s (forced-idr) and scene-cut off, CRF 23 (x264's
// default with bit_rate 0), yuv420p via swscale, x264's thread count left at auto as ours does.
// The RGB -> YUV conversion runs on one thread on our side, hence one filter thread here.
std::vector<std::string> encode_ffmpeg_args(const Config& cfg, const fs::path& raw) {
  const auto size = fmt::format("{0}x{0}", cfg.size);
  auto args = ffmpeg_base(cfg);
  args.insert(args.end(), {"-f",
                           "rawvideo",
                           "-pix_fmt",
                           "rgb24",
                           "-s",
                           size,
                           "-r",
                           "30",
                           "-i",
                           raw.string(),
                           "-filter_threads",
                           "1",
                           "-c:v",
                           "libx264",
                           "-preset",
                           "superfast",
                           "-tune",
                           "zerolatency",
                           "-bf",
                           "0",
                           "-g",
                           std::to_string(1 << 30),
                           "-force_key_frames",
                           "expr:gte(t,n_forced*2)",
                           "-forced-idr",
                           "1",
                           "-x264-params",
                           "scenecut=0",
                           "-pix_fmt",
                           "yuv420p",
                           "-f",
                           "mpegts",
                           "/dev/null"});
  return args;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

double median_of(const std::vector<Sample>& samples, double Sample::*field) {
  std::vector<double> values;
  for (const auto& sample : samples) values.push_back(sample.*field);
  return median(values);
}

// ffmpeg first and ours second within each run, so slow drift (thermal, the page cache, other
// load) touches both sides alike.
void measure(const Config& cfg, Row& row, const std::vector<std::string>& ffmpeg_args,
             const std::function<std::int64_t()>& ours) {
  for (int run = 0; run < cfg.runs; ++run) {
    row.background_cores.push_back(wait_for_quiet(cfg));
    row.ffmpeg.push_back(run_process(ffmpeg_args));
    std::int64_t frames = 0;
    row.ours.push_back(time_ours([&] { frames = ours(); }));
    if (frames != row.frames) {
      throw std::runtime_error(fmt::format("{}: {} frames, expected {}", row.work, frames, row.frames));
    }
    fmt::print(stderr, "{} ({} threads) run {}: ffmpeg {:.2f} s, ours {:.2f} s (other load {:.1f} cores)\n", row.work,
               row.threads, run + 1, row.ffmpeg.back().wall_s, row.ours.back().wall_s, row.background_cores.back());
  }
}

void print_table(const Config& cfg, const std::vector<Row>& rows) {
  fmt::print(
      "| work | threads | ffmpeg fps | ours fps | ours/ffmpeg | ffmpeg CPU ms/frame | "
      "ours CPU ms/frame | ffmpeg peak RSS MiB | ours peak RSS growth MiB | other load (cores) |\n");
  fmt::print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& row : rows) {
    const double frames = static_cast<double>(row.frames);
    const double ffmpeg_fps = frames / median_of(row.ffmpeg, &Sample::wall_s);
    const double ours_fps = frames / median_of(row.ours, &Sample::wall_s);
    fmt::print("| {} | {} | {:.0f} | {:.0f} | {:.0f} % | {:.2f} | {:.2f} | {:.0f} | {:.0f} | {:.1f} |\n", row.work,
               row.threads, ffmpeg_fps, ours_fps, 100 * ours_fps / ffmpeg_fps,
               1000 * median_of(row.ffmpeg, &Sample::cpu_s) / frames,
               1000 * median_of(row.ours, &Sample::cpu_s) / frames, median_of(row.ffmpeg, &Sample::peak_rss_mib),
               median_of(row.ours, &Sample::peak_rss_mib), median(row.background_cores));
  }
  fmt::print(
      "\n{} frames of 1280x720 H.264 per run, {}x{} output, median of {} runs on {} cores; "
      "other load: busy cores just before each run (waited up to {} s for < {}).\n",
      rows.empty() ? 0 : rows.front().frames, cfg.size, cfg.size, cfg.runs, std::thread::hardware_concurrency(),
      cfg.quiet_wait_s, cfg.quiet_cores);
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  CLI::App app{"Decode and encode throughput of the media engine next to the ffmpeg CLI"};
  app.add_option("--runs", cfg.runs, "Runs per measurement (medians are reported)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--seconds", cfg.seconds, "Length of the 30 fps test clip")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--size", cfg.size, "Output width and height (the worker's tensor size)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--decode-threads", cfg.decode_threads, "Decoder thread counts")
      ->delimiter(',')
      ->check(CLI::PositiveNumber);
  app.add_option("--ffmpeg", cfg.ffmpeg, "The ffmpeg executable")->capture_default_str();
  app.add_option("--quiet-wait", cfg.quiet_wait_s, "Seconds to wait before each run for other processes to go quiet")
      ->capture_default_str();
  app.add_option("--quiet-cores", cfg.quiet_cores,
                 "Other processes' load (in cores) under which the machine counts as quiet")
      ->capture_default_str();
  app.add_flag("--keep", cfg.keep, "Keep the temporary directory with the clip and raw frames");
  CLI11_PARSE(app, argc, argv);
  // The ffmpeg runs use -loglevel error; x264's statistics from our side would drown the progress.
  av_log_set_level(AV_LOG_ERROR);

  const fs::path dir = fs::temp_directory_path() / fmt::format("media_throughput.{}", getpid());
  fs::create_directories(dir);
  const fs::path clip = dir / "clip.ts";
  const fs::path raw = dir / "frames.rgb";
  int exit_code = 0;
  try {
    fmt::print(stderr, "making a {} s test clip in {}\n", cfg.seconds, dir.string());
    make_clip(cfg, clip);
    const std::int64_t frames = decode_ours(cfg, clip, {trickle::tensor::DType::uint8, 0});
    std::vector<Row> rows;

    using trickle::media::DecoderThreading;
    std::vector<std::pair<std::string, DecodeSetup>> decodes;
    for (int threads : cfg.decode_threads) {
      decodes.push_back({"decode float32", {trickle::tensor::DType::float32, threads, DecoderThreading::slice}});
      // Slice threads are what the worker uses (no added latency) but the clip has one slice per
      // frame, so they cannot help; frame threads show what a second core can do.
      if (threads > 1) {
        decodes.push_back({"decode float32", {trickle::tensor::DType::float32, threads, DecoderThreading::frame}});
      }
    }
    decodes.push_back({"decode uint8", {trickle::tensor::DType::uint8, 1, DecoderThreading::slice}});
    decodes.push_back(
        {"decode float32, ffmpeg to rgb24", {trickle::tensor::DType::float32, 1, DecoderThreading::slice, "rgb24"}});
    for (const auto& [work, setup] : decodes) {
      Row row;
      row.work = work;
      row.threads = fmt::format("{} {}", setup.threads, setup.threading == DecoderThreading::slice ? "slice" : "frame");
      row.frames = frames;
      measure(cfg, row, decode_ffmpeg_args(cfg, clip, setup), [&] { return decode_ours(cfg, clip, setup); });
      rows.push_back(std::move(row));
    }

    // The encoders' input, made once and not timed: our own decoder's uint8 tensors, written out
    // byte for byte for ffmpeg, and the same pictures as float32 k/255.
    std::vector<trickle::tensor::Tensor> rgb_frames;
    decode_ours(cfg, clip, {trickle::tensor::DType::uint8, 0}, &rgb_frames);
    std::vector<trickle::tensor::Tensor> float_frames;
    {
      std::ofstream out(raw, std::ios::binary);
      for (const auto& frame : rgb_frames) {
        out.write(static_cast<const char*>(frame.data()), static_cast<std::streamsize>(frame.nbytes()));
        auto as_float = trickle::tensor::Tensor::empty(frame.shape(), trickle::tensor::DType::float32);
        const auto* levels = frame.data_as<std::uint8_t>();
        auto* values = as_float.data_as<float>();
        const std::int64_t count = frame.numel();
        for (std::int64_t i = 0; i < count; ++i) values[i] = levels[i] / 255.0f;
        float_frames.push_back(std::move(as_float));
      }
    }
    for (const auto* input : {&rgb_frames, &float_frames}) {
      Row row;
      row.work = input == &rgb_frames ? "encode uint8" : "encode float32";
      row.threads = "x264 auto";
      row.frames = static_cast<std::int64_t>(input->size());
      measure(cfg, row, encode_ffmpeg_args(cfg, raw), [&] { return encode_ours(*input); });
      rows.push_back(std::move(row));
    }
    print_table(cfg, rows);
  } catch (const std::exception& error) {
    fmt::print(stderr, "media_throughput: {}\n", error.what());
    exit_code = 1;
  }
  if (!cfg.keep) fs::remove_all(dir);
  return exit_code;
}
