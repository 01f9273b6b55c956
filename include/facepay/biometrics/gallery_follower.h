// GalleryFollower: keeps one node's Gallery current with the shared store's template change
// log, so enrolments and erasures made on other nodes become searchable (or stop being
// searchable) within about one interval.
//
// A background thread runs one round every `interval_ms`: read the store's LatestSequence,
// then Gallery::CatchUp. A failed round (store unavailable, ...) is logged when a run of
// failures starts or its reason changes and when it clears, kept in status().last_error, and
// retried at the next tick: the thread never exits on an error.
//
// Thread-safety: all methods are thread-safe. Start is a no-op when running; Stop wakes the
// thread and joins it (a round in progress finishes first); the destructor stops. The gallery
// (and its store) must outlive the follower.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "facepay/biometrics/gallery.h"

namespace facepay::biometrics {

struct GalleryFollowerOptions {
  int interval_ms = 250;
  // Where errors and recoveries are reported; null = one line on stderr.
  std::function<void(const std::string&)> log;
};

// For metrics and health checks.
struct GalleryFollowerStatus {
  bool running = false;
  int64_t sequence = 0;        // last caught-up change-log sequence (the gallery's)
  int64_t store_sequence = 0;  // the store's latest sequence, read at the start of a round
  int64_t lag = 0;             // store_sequence - sequence after the last round (>= 0)
  int64_t rounds = 0;          // rounds run, failed ones included
  int64_t failed_rounds = 0;
  int64_t consecutive_failures = 0;
  size_t last_changes_read = 0;  // log entries applied by the last successful round
  Status last_error;             // ok when the last round succeeded
};

class GalleryFollower {
 public:
  explicit GalleryFollower(Gallery& gallery, GalleryFollowerOptions options = {});
  ~GalleryFollower();
  GalleryFollower(const GalleryFollower&) = delete;
  GalleryFollower& operator=(const GalleryFollower&) = delete;

  void Start();
  void Stop();
  // One round now, on the calling thread (what the background thread runs every tick).
  Status RunOnce();
  GalleryFollowerStatus status() const;

 private:
  void Loop();
  void Log(const std::string& line) const;

  Gallery& gallery_;
  const GalleryFollowerOptions options_;
  std::mutex round_mu_;           // serialises rounds (background and RunOnce)
  mutable std::mutex mu_;         // guards status_, stop_
  std::condition_variable wake_;  // signalled by Stop
  GalleryFollowerStatus status_;
  bool stop_ = false;
  std::mutex thread_mu_;  // guards thread_ (Start/Stop)
  std::thread thread_;
};

}  // namespace facepay::biometrics
