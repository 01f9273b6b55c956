#include "facepay/biometrics/gallery_follower.h"

#include <algorithm>
#include <chrono>
#include <iostream>

namespace facepay::biometrics {

GalleryFollower::GalleryFollower(Gallery& gallery, GalleryFollowerOptions options)
    : gallery_(gallery), options_(std::move(options)) {}

GalleryFollower::~GalleryFollower() { Stop(); }

void GalleryFollower::Start() {
  std::lock_guard tl(thread_mu_);
  if (thread_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stop_ = false;
    status_.running = true;
  }
  thread_ = std::thread([this] { Loop(); });
}

void GalleryFollower::Stop() {
  std::lock_guard tl(thread_mu_);
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
  std::lock_guard lock(mu_);
  status_.running = false;
}

void GalleryFollower::Loop() {
  const auto interval = std::chrono::milliseconds(std::max(1, options_.interval_ms));
  for (;;) {
    (void)RunOnce();
    std::unique_lock lock(mu_);
    if (wake_.wait_for(lock, interval, [this] { return stop_; })) return;
  }
}

Status GalleryFollower::RunOnce() {
  std::lock_guard round(round_mu_);
  Status st;
  int64_t latest = -1;
  size_t read = 0;
  auto seq = gallery_.store().LatestSequence();
  if (!seq.ok()) {
    st = seq.status();
  } else {
    latest = *seq;
    auto r = gallery_.CatchUp();
    if (r.ok()) {
      read = *r;
    } else {
      st = r.status();
    }
  }
  const int64_t applied = gallery_.sequence();
  std::string line;
  {
    std::lock_guard lock(mu_);
    ++status_.rounds;
    status_.sequence = applied;
    if (latest >= 0) status_.store_sequence = latest;
    status_.lag = std::max<int64_t>(0, status_.store_sequence - applied);
    if (st.ok()) {
      if (status_.consecutive_failures > 0) {
        line = "gallery follower: caught up again at sequence ";
        line += std::to_string(applied);
        line += " after ";
        line += std::to_string(status_.consecutive_failures);
        line += " failed round(s)";
      }
      status_.consecutive_failures = 0;
      status_.last_changes_read = read;
    } else {
      if (status_.consecutive_failures == 0 || status_.last_error.reason() != st.reason()) {
        line = "gallery follower: catch-up failed (will retry): ";
        line += st.ToString();
      }
      ++status_.failed_rounds;
      ++status_.consecutive_failures;
    }
    status_.last_error = st;
  }
  if (!line.empty()) Log(line);
  return st;
}

GalleryFollowerStatus GalleryFollower::status() const {
  std::lock_guard lock(mu_);
  return status_;
}

void GalleryFollower::Log(const std::string& line) const {
  if (options_.log) {
    options_.log(line);
  } else {
    std::cerr << "facepay: " << line << "\n";
  }
}

}  // namespace facepay::biometrics
