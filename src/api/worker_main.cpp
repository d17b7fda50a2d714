#include "trickle/api/worker_main.hpp"

#include <cstdio>

#include <CLI/CLI.hpp>
#include <spdlog/cfg/env.h>
#include <spdlog/spdlog.h>

#include "trickle/api/stream_server.hpp"
#include "trickle/util/connection_limit_flags.hpp"
#include "trickle/util/tls_client_flags.hpp"

namespace trickle::api {

namespace {

int serve(int argc, char** argv, const ProcessorFactory& make_processor, bool one_instance, const char* description) {
  spdlog::cfg::load_env_levels();  // SPDLOG_LEVEL=debug
  CLI::App app(description);
  StreamServerOptions options;
  options.port = 8000;
  bool uint8_frames = false, no_batch_dim = false, gpu = false, cuda_frames = false;
  int streams = 1;
  std::string port_file;
  app.add_option("--host", options.host, "Address to listen on")->capture_default_str();
  app.add_option("--port", options.port, "Port to listen on (0: any free port)")->capture_default_str();
  app.add_option("--port-file", port_file, "Write the bound port to this file once listening");
  app.add_option("--route-prefix", options.api.route_prefix, "Prefix of the /stream/* routes")->capture_default_str();
  app.add_option("--pipeline", options.api.pipeline, "Pipeline name for /version (default: $PIPELINE or byoc)");
  app.add_option("--capability", options.api.capability_name,
                 "Model id for /version (default: $CAPABILITY_NAME or $MODEL_ID)");
  app.add_option("--app-version", options.api.version, "What /app-version reports")->capture_default_str();
  app.add_flag("--uint8", uint8_frames, "Hand the processor uint8 frames instead of float32 in [0, 1]");
  app.add_flag("--no-batch-dim", no_batch_dim, "Hand the processor [H, W, 3] frames instead of [1, H, W, 3]");
  app.add_flag("--gpu", gpu, "Decode with NVDEC and encode with NVENC where the GPU allows (else the CPU, logged)");
  app.add_flag("--cuda-frames", cuda_frames, "Hand the processor CUDA tensors made on the GPU from NVDEC's pictures");
  app.add_option("--streams", streams,
                 "Streams served at once on the one port, each named by its X-Stream-Id header and "
                 "run by a processor of its own")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  util::add_tls_client_flags(app, options.api.stream_defaults.tls);
  util::add_connection_limit_flags(app, options.http_limits);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (streams > 1 && one_instance) {
    spdlog::error("--streams {}: this worker hands run_worker one processor instance; pass a factory instead", streams);
    return 2;
  }
  if (uint8_frames) options.api.stream_defaults.video_dtype = tensor::DType::uint8;
  options.api.stream_defaults.video_batch_dim = !no_batch_dim;
  options.api.stream_defaults.gpu_decode = gpu;
  options.api.stream_defaults.gpu_encode = gpu;
  if (cuda_frames) options.api.stream_defaults.video_device = tensor::Device::cuda();
  options.api.max_streams = streams;

  StreamServer server(make_processor, options);
  auto port = server.listen();
  if (!port) {
    spdlog::error("cannot listen on {}:{}: {}", options.host, options.port, port.error().message);
    return 2;
  }
  spdlog::info("worker listening on http://{}:{} ({} stream{} at once)", options.host, *port, streams,
               streams == 1 ? "" : "s");
  if (!port_file.empty()) {
    if (std::FILE* f = std::fopen(port_file.c_str(), "w")) {
      std::fprintf(f, "%u\n", static_cast<unsigned>(*port));
      std::fclose(f);
    }
  }
  server.run();
  spdlog::info("worker stopped");
  return 0;
}

}  // namespace

int run_worker(int argc, char** argv, ProcessorFactory make_processor, const char* description) {
  return serve(argc, argv, make_processor, false, description);
}

int run_worker(int argc, char** argv, std::shared_ptr<runtime::FrameProcessor> processor, const char* description) {
  return serve(argc, argv, [processor] { return processor; }, true, description);
}

}  // namespace trickle::api
