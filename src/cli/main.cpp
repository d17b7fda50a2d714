// `trickle`: the relay server and command-line publisher/subscriber.

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "commands.hpp"

int main(int argc, char** argv) {
  // Logs go to stderr so `trickle subscribe --out -` can own stdout.
  spdlog::set_default_logger(spdlog::stderr_color_mt("trickle"));
  spdlog::set_pattern("%H:%M:%S.%e %^%l%$ %v");

  CLI::App app{"trickle: Livepeer trickle relay server, publisher and subscriber"};
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  app.parse_complete_callback([&] { spdlog::set_level(spdlog::level::from_str(log_level)); });

  int exit_code = 0;
  trickle::cli::add_serve_command(app, exit_code);
  trickle::cli::add_publish_command(app, exit_code);
  trickle::cli::add_subscribe_command(app, exit_code);
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
