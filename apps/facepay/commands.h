// Command groups of the `facepay` CLI. Each Add*Commands adds its subcommands to `app`; a
// subcommand's callback stores its process exit code in `exit_code` (0 ok, 1 failure,
// 2 usage). Output contract: machine-readable JSON on stdout, progress and errors on stderr.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace facepay::cli {

void AddVisionCommands(CLI::App& app, int& exit_code);    // vision_commands.cc
void AddEvalCommands(CLI::App& app, int& exit_code);      // eval_commands.cc
void AddBenchCommands(CLI::App& app, int& exit_code);     // bench_commands.cc
void AddLivenessCommands(CLI::App& app, int& exit_code);  // liveness_commands.cc
void AddPaymentsCommands(CLI::App& app, int& exit_code);  // payments_commands.cc
// enroll, identify, erase, calibrate, policy, eval identify, bench search
void AddBiometricsCommands(CLI::App& app, int& exit_code);  // biometrics_commands.cc
void AddServiceCommands(CLI::App& app, int& exit_code);     // service_commands.cc
void AddDemoCommands(CLI::App& app, int& exit_code);        // demo_commands.cc

// `facepay eval pad --window-ms`: sequence liveness per window with the manifest's model.
int EvalPadWindows(const std::vector<std::string>& live, const std::vector<std::string>& attack,
                   const std::string& labels, const std::string& models,
                   const std::vector<std::string>& camera_profiles, double window_ms,
                   double stride_ms, int frames, int threads, const std::string& scores_out);

}  // namespace facepay::cli
