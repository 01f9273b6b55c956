// facepay: face-biometric payments and ticketing. Wiring only; see commands.h.
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "commands.h"

int main(int argc, char** argv) {
  // Every file facepay creates (SQLite databases, keys, snapshots) is the owner's alone.
  umask(0077);
  // Logs (the server's access log among them) go to stderr; stdout carries results only.
  spdlog::set_default_logger(spdlog::stderr_color_mt("facepay"));
  CLI::App app{"facepay: face-biometric payment and ticketing system"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "facepay 0.1.0");
  int exit_code = 0;
  facepay::cli::AddVisionCommands(app, exit_code);
  facepay::cli::AddEvalCommands(app, exit_code);
  facepay::cli::AddBenchCommands(app, exit_code);
  facepay::cli::AddLivenessCommands(app, exit_code);
  facepay::cli::AddPaymentsCommands(app, exit_code);
  facepay::cli::AddBiometricsCommands(app, exit_code);
  facepay::cli::AddServiceCommands(app, exit_code);
  facepay::cli::AddDemoCommands(app, exit_code);  // after bench: adds `bench gate`
  facepay::cli::AddGateCommands(app, exit_code);
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
