// Progress reporting for long jobs, on stderr (stdout stays machine-readable).
// Thread-safe: Tick() may be called from any thread. On a terminal it redraws one line at
// most 5 times a second; otherwise it prints a line at every 10%.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>

namespace facepay {

class Progress {
 public:
  Progress(std::string label, size_t total, std::FILE* out = stderr, bool enabled = true);
  ~Progress();  // prints the final line
  void Tick(size_t n = 1);
  size_t done() const { return done_.load(); }

 private:
  void Print(size_t done, bool final);
  std::string label_;
  size_t total_;
  std::FILE* out_;
  bool enabled_;
  bool tty_;
  std::atomic<size_t> done_{0};
  std::chrono::steady_clock::time_point start_;
  std::mutex mu_;  // guards last_print_, last_decile_ and writes to out_
  std::chrono::steady_clock::time_point last_print_;
  size_t last_decile_ = 0;
};

// Runs fn(i) for i in [0, n) on `threads` worker threads (the caller's thread when 1).
// fn must be thread-safe; order of calls is unspecified.
template <typename Fn>
void ParallelFor(size_t n, int threads, Fn&& fn);

}  // namespace facepay

#include "facepay/common/progress_inl.h"
