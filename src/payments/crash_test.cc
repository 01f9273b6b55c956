// Crash safety: a child process charges in a loop and acknowledges each durable charge on
// stdout; we SIGKILL it at random points (25 times), then reopen the store and prove every
// acknowledged charge is present exactly once with its amount, and the ledger balances.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "ledger_test_fixture.h"

namespace facepay::payments {
namespace {

constexpr int kKills = 25;

struct Ack {
  std::string key;
  int64_t txn_id;
  int64_t amount;
};

// Runs the child, waits until it is charging (first acknowledgement), lets it run for
// `kill_after_ms` more and SIGKILLs it; returns the acknowledged charges.
std::vector<Ack> RunAndKill(const std::string& location, int run, int kill_after_ms) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::close(fds[0]);
    ::close(fds[1]);
    const std::string r = std::to_string(run);
    ::execl(FACEPAY_CRASH_CHILD, FACEPAY_CRASH_CHILD, location.c_str(), r.c_str(), nullptr);
    ::_exit(127);
  }
  ::close(fds[1]);
  std::string out;
  std::mutex mu;  // guards started
  std::condition_variable cv;
  bool started = false;
  std::thread reader([&] {
    char buf[65536];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof buf)) > 0) {
      out.append(buf, static_cast<size_t>(n));
      std::lock_guard<std::mutex> lock(mu);
      started = true;
      cv.notify_all();
    }
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, std::chrono::seconds(30), [&] { return started; });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(kill_after_ms));
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  reader.join();
  ::close(fds[0]);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "child exited by itself (status " << status << ") before the kill";
  std::vector<Ack> acks;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (in.eof()) break;  // a line cut by the kill has no newline: not an acknowledgement
    std::istringstream ls(line);
    std::string tag;
    Ack a;
    if (ls >> tag >> a.key >> a.txn_id >> a.amount && tag == "ACK") acks.push_back(a);
  }
  return acks;
}

using CrashTest = StoreTest;

TEST_P(CrashTest, EveryAcknowledgedChargeSurvivesSigkillExactlyOnce) {
  Wallet("wallet", 1'000'000'000);
  ledger_.reset();
  ts_->Close();  // only the child writes while we kill it

  std::mt19937 rng(4242);
  std::vector<Ack> all;
  int runs_with_acks = 0;
  for (int run = 0; run < kKills; ++run) {
    auto acks = RunAndKill(ts_->location(), run, static_cast<int>(rng() % 200));
    runs_with_acks += acks.empty() ? 0 : 1;
    all.insert(all.end(), acks.begin(), acks.end());
  }
  ASSERT_TRUE(ts_->Reopen().ok());
  ledger_ = std::make_unique<Ledger>(ts_->store(), clock_, &provider_);
  EXPECT_EQ(runs_with_acks, kKills) << "some runs were killed before charging";
  int64_t acked_sum = 0;
  for (const Ack& a : all) {
    auto n = ts_->store().CountTransactionsWithKey(a.key);
    ASSERT_TRUE(n.ok());
    ASSERT_EQ(*n, 1) << "acknowledged charge " << a.key << " is stored " << *n << " times";
    auto t = ts_->store().GetTransaction(a.txn_id);
    ASSERT_TRUE(t.ok()) << a.key;
    EXPECT_EQ(t->idempotency_key, a.key);
    EXPECT_EQ(t->amount_minor, a.amount);
    acked_sum += a.amount;
  }
  auto rep = ledger_->CheckIntegrity();
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->ok());
  // Charges committed but killed before their ACK was printed may exist; never fewer.
  const int64_t charged = 1'000'000'000 - Balance("wallet");
  EXPECT_GE(charged, acked_sum);
  EXPECT_EQ(Balance("metro:revenue"), charged);
  std::printf(
      "[crash] %s: %d SIGKILLs, %zu acknowledged charges all present once, "
      "%lld transactions committed, integrity %s\n",
      GetParam().c_str(), kKills, all.size(), static_cast<long long>(rep->transactions - 1),
      rep->ok() ? "clean" : "BROKEN");
}

FACEPAY_INSTANTIATE_STORE_TEST(CrashTest);

}  // namespace
}  // namespace facepay::payments
