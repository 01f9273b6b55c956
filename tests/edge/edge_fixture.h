// The edge tests' fixture: a real node on loopback (SQLite), the d3 person enrolled from a burst
// of real video, its camera calibrated with the real CLI, and a way to run the facepay binary.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "facepay/node/gate.h"
#include "service/flows_fixture.h"

namespace facepay::testing {

struct Ran {
  int exit_code = -1;
  std::string out, err;
};

// Runs `argv` with `env` added, stdout and stderr captured; waits for it to end.
inline Ran RunProgram(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  Ran r;
  int out_pipe[2], err_pipe[2];
  if (pipe(out_pipe) != 0 || pipe(err_pipe) != 0) return r;
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    close(out_pipe[0]);
    close(err_pipe[0]);
    for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  // Both pipes are drained together so that neither fills while the child writes the other.
  char buf[4096];
  bool out_open = true, err_open = true;
  while (out_open || err_open) {
    fd_set set;
    FD_ZERO(&set);
    if (out_open) FD_SET(out_pipe[0], &set);
    if (err_open) FD_SET(err_pipe[0], &set);
    if (select(std::max(out_pipe[0], err_pipe[0]) + 1, &set, nullptr, nullptr, nullptr) < 0) break;
    for (auto [fd, open, dst] : {std::tuple{out_pipe[0], &out_open, &r.out},
                                 std::tuple{err_pipe[0], &err_open, &r.err}}) {
      if (*open && FD_ISSET(fd, &set)) {
        const ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) {
          *open = false;
        } else {
          dst->append(buf, static_cast<size_t>(n));
        }
      }
    }
  }
  close(out_pipe[0]);
  close(err_pipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

inline std::vector<json> JsonLines(const std::string& text) {
  std::vector<json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    out.push_back(json::parse(line, nullptr, false));
  }
  return out;
}

class GateEdge : public ServiceFlows {
 protected:
  void SetUp() override {
    ServiceFlows::SetUp();
    if (IsSkipped() || HasFailure()) return;
    FACEPAY_DATA_PATH_OR_RETURN(v, "videos");
    videos_ = v;
  }

  // The person of d3.mp4 enrolled from a burst of its first second, with a stored-value account
  // of `balance`.
  std::string EnrollD3(Node& n, const std::string& enroller, int64_t balance) {
    const std::string account = "acct:d3";
    auto r = n.Post("/v1/accounts", enroller, {{"id", account}});
    EXPECT_EQ(r.status, 201) << r.raw;
    r = n.Post("/v1/accounts/" + account + "/topups", enroller,
               {{"idempotency_key", "open-d3"}, {"amount_minor", balance}});
    EXPECT_EQ(r.status, 200) << r.raw;
    r = n.Post("/v1/subjects", enroller,
               {{"id", "d3"},
                {"consent", {{"text_version", "v1"}, {"channel", "kiosk"}}},
                {"account_id", account},
                {"frame_interval_ms", 125},
                {"frames", VideoBurst(videos_ + "/d3.mp4", 1000, 8, 125)}});
    EXPECT_EQ(r.status, 201) << r.raw;
    return account;
  }

  // The d3 camera calibrated as an operator does it: `facepay liveness calibrate` on its first
  // 3 s of genuine video. The gate then judges what follows.
  std::string CalibrateD3() {
    const std::string path = ::testing::TempDir() + "/d3-camera-" + std::to_string(getpid()) + ".json";
    Ran r = RunProgram({FACEPAY_BIN, "liveness", "calibrate", "--camera", "d3", "--live",
                        videos_ + "/d3.mp4#0-3000", "--out", path},
                       {"FACEPAY_MODELS_DIR=" + ModelsDir()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto p = vision::LoadCameraProfile(path);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    if (p.ok()) d3_ = *p;
    return path;
  }

  std::string KeyFile(const std::string& token) {
    const std::string path = ::testing::TempDir() + "/gate-key-" + std::to_string(getpid());
    std::ofstream(path) << token << "\n";
    chmod(path.c_str(), 0600);
    return path;
  }

  std::string Url(Node& n) { return "http://127.0.0.1:" + std::to_string(n.port()); }

  std::string videos_;
  vision::CameraProfile d3_;
};

}  // namespace facepay::testing
