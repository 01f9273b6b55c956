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
void AddGateCommands(CLI::App& app, int& exit_code);        // gate_commands.cc

// `facepay eval pad` in sequence mode (--window-ms, --sources).
struct PadWindowArgs {
  std::vector<std::string> live, attack, camera_profiles;
  std::string labels, models, scores_out;
  double window_ms = 0, stride_ms = 250;
  double fps = 0;  // folders of numbered frames given by --live/--attack: their capture rate
  int frames = 8, threads = 0;
  // --sources FILE (eval::ReadPadSources) with paths under data_dir: per-source report.
  std::string sources, data_dir;
  bool leave_one_source_out = false, compare = false, json_out = false;
  std::string signals = "cnn";
  std::string calibrate_signals;  // crop signals also calibrated per camera (experiment)
};
// Sequence liveness per window with the manifest's model.           liveness_commands.cc
int EvalPadWindows(const PadWindowArgs& a);
// Per development source, and leave-one-source-out.                  pad_sources_commands.cc
int EvalPadSources(const PadWindowArgs& a);

}  // namespace facepay::cli
