// Queue of units of work waiting for a writer thread, shared by the SQLite and PostgreSQL
// stores (group commit: a writer takes everything queued, up to a batch size, and commits it
// in one transaction). Thread-safe.
#pragma once

#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <vector>

#include "facepay/payments/ledger_store.h"

namespace facepay::storage {

struct PendingUnit {
  payments::UnitOfWork unit;
  std::promise<Status> done;
  int attempts = 0;
};

class WorkQueue {
 public:
  // Adds a unit; returns its future. After Close(), fails at once with Unavailable.
  std::future<Status> Push(payments::UnitOfWork unit) {
    PendingUnit p{std::move(unit), {}, 0};
    std::future<Status> f = p.done.get_future();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) {
        p.done.set_value(Unavailable("store_closed", "ledger store is closed"));
        return f;
      }
      q_.push_back(std::move(p));
    }
    cv_.notify_one();
    return f;
  }
  // Re-queues units that must be retried after the current batch commits (front of queue).
  void Requeue(std::vector<PendingUnit>& units) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto it = units.rbegin(); it != units.rend(); ++it) q_.push_front(std::move(*it));
    }
    units.clear();
    cv_.notify_all();
  }
  // Blocks until work is queued (or closed and drained: returns empty). Takes up to `max`.
  std::vector<PendingUnit> PopBatch(size_t max) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return closed_ || !q_.empty(); });
    std::vector<PendingUnit> out;
    while (!q_.empty() && out.size() < max) {
      out.push_back(std::move(q_.front()));
      q_.pop_front();
    }
    return out;
  }
  // Writers drain what is queued, then PopBatch returns empty.
  void Close() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;  // guards q_ and closed_
  std::condition_variable cv_;
  std::deque<PendingUnit> q_;
  bool closed_ = false;
};

}  // namespace facepay::storage
