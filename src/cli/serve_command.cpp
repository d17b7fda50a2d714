#include <cstdio>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "trickle/protocol/relay_server.hpp"
#include "trickle/util/connection_limit_flags.hpp"

namespace trickle::cli {

namespace {
struct ServeArgs {
  std::string host = "0.0.0.0";
  std::uint16_t port = 3389;
  bool autocreate = false;
  std::vector<std::string> channels;  // created up front, as a gateway creates a stream's channels
  std::string base_path = "/";
  double idle_timeout_s = 300;
  bool changes = false;
  std::string tls_cert, tls_key;
  net::HttpLimits limits;
};

int run_serve(const ServeArgs& args) {
  asio::io_context io(1);
  protocol::RelayOptions options;
  options.base_path = args.base_path;
  options.autocreate = args.autocreate;
  options.changes_feed = args.changes;
  options.limits = args.limits;
  options.idle_timeout = std::chrono::milliseconds(static_cast<long long>(args.idle_timeout_s * 1000));
  options.sweep_interval = std::min<std::chrono::milliseconds>(std::chrono::minutes(1), options.idle_timeout);
  if (!args.tls_cert.empty()) options.tls = net::TlsServerOptions{args.tls_cert, args.tls_key};
  protocol::RelayServer relay(io.get_executor(), options);
  auto endpoint = relay.listen(args.host, args.port);
  if (!endpoint) {
    spdlog::error("{}", endpoint.error().message);
    return 1;
  }
  relay.start();
  for (const auto& name : args.channels) relay.create_channel(name);
  std::string base =
      options.base_path.empty() || options.base_path.front() != '/' ? "/" + options.base_path : options.base_path;
  if (base.back() != '/') base.push_back('/');
  // Tests and scripts read this line to learn the port (with --port 0).
  std::printf("trickle relay listening on %s://%s:%u%s\n", relay.secure() ? "https" : "http", args.host.c_str(),
              relay.port(), base.c_str());
  std::fflush(stdout);

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const std::error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("signal {}: stopping", signal);
    relay.stop();
  });
  io.run();
  return 0;
}
}  // namespace

void add_serve_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ServeArgs>();
  auto* cmd = app.add_subcommand("serve", "Run the trickle relay server");
  cmd->add_option("--host", args->host, "Address to listen on")->capture_default_str();
  cmd->add_option("--port", args->port, "Port to listen on (0: any free port)")->capture_default_str();
  cmd->add_flag("--autocreate", args->autocreate, "Create channels on their first POST (and on POST /{channel})");
  cmd->add_option("--channel", args->channels,
                  "Create this channel at start (repeatable); without --autocreate "
                  "only such channels exist")
      ->check([](const std::string& name) -> std::string {
        if (name.empty() || name.find('/') != std::string::npos || name == protocol::changes_channel)
          return "a channel name is one path segment, not _changes";
        return {};
      });
  cmd->add_option("--base-path", args->base_path, "Path prefix of every route")->capture_default_str();
  cmd->add_option("--idle-timeout", args->idle_timeout_s, "Seconds without a new segment before a channel closes")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  util::add_connection_limit_flags(*cmd, args->limits);
  cmd->add_flag("--changes", args->changes, "Publish channel additions/removals as JSON on the _changes channel");
  auto* cert = cmd->add_option("--tls-cert", args->tls_cert, "Serve https://: PEM certificate (chain) file")
                   ->check(CLI::ExistingFile);
  auto* key =
      cmd->add_option("--tls-key", args->tls_key, "Serve https://: PEM private key file")->check(CLI::ExistingFile);
  cert->needs(key);
  key->needs(cert);
  cmd->callback([args, &exit_code] { exit_code = run_serve(*args); });
}

}  // namespace trickle::cli
