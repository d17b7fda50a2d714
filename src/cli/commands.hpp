#pragma once
// The `trickle` command's sub-commands; each file registers one and runs it.

#include <CLI/CLI.hpp>

namespace trickle::cli {

// Each returns the process exit status through `exit_code` once its sub-command has run.
void add_serve_command(CLI::App& app, int& exit_code);
void add_publish_command(CLI::App& app, int& exit_code);
void add_subscribe_command(CLI::App& app, int& exit_code);

}  // namespace trickle::cli
