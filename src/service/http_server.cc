#include "http_server.h"

#include "facepay/service/auth.h"

#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace facepay::service {
namespace {

using SteadyClock = std::chrono::steady_clock;

std::string NewRequestId() {
  std::string id = "r";  // appended: GCC 12 warns falsely (-Wrestrict) on "lit" + string
  return id += RandomHex(8);
}

// A socket stream whose reads stop at a deadline and a byte budget (both per request), with a
// small read buffer (httplib's line reader asks for one byte at a time).
class DeadlineStream final : public httplib::Stream {
 public:
  DeadlineStream(socket_t sock, const ConnectionLimits& limits) : sock_(sock), limits_(limits) {}

  void BeginRequest() {
    const auto now = SteadyClock::now();
    start_ = now;
    deadline_ = now + std::chrono::milliseconds(limits_.header_timeout_ms);
    read_ = buffered();  // pipelined bytes already read count towards this request
    budget_ = limits_.max_header_bytes;
  }
  void BeginBody() {
    deadline_ = start_ + std::chrono::milliseconds(limits_.request_timeout_ms);
    read_ = 0;
    // Chunk framing adds a few bytes per chunk; allow for it without letting it be a loophole.
    budget_ = limits_.max_body_bytes + limits_.max_body_bytes / 16 + 4096;
  }
  size_t buffered() const { return len_ - off_; }

  // Waits for the next request's first byte (keep-alive), giving up after `ms` or when `stop`.
  bool WaitForRequest(int ms, const std::function<bool()>& stop) const {
    if (buffered() > 0) return true;
    const auto until = SteadyClock::now() + std::chrono::milliseconds(ms);
    while (!stop()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            until - SteadyClock::now()).count();
      if (left <= 0) return false;
      const int r = Poll(POLLIN, static_cast<int>(std::min<int64_t>(left, 200)));
      if (r > 0) return true;
      if (r < 0) return false;
    }
    return false;
  }

  bool is_readable() const override { return buffered() > 0 || WaitRead(); }
  bool is_writable() const override { return Poll(POLLOUT, limits_.io_timeout_ms) > 0; }

  ssize_t read(char* ptr, size_t size) override {
    if (buffered() > 0) {
      const size_t n = std::min(size, buffered());
      std::memcpy(ptr, buf_.data() + off_, n);
      off_ += n;
      return static_cast<ssize_t>(n);
    }
    if (!WaitRead()) return -1;
    const bool into_buffer = size < buf_.size();
    ssize_t n;
    do {
      n = ::recv(sock_, into_buffer ? buf_.data() : ptr, into_buffer ? buf_.size() : size, 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) return n;
    read_ += static_cast<size_t>(n);
    if (read_ > budget_) {
      CurrentRequest().body_over_limit = true;
      return -1;
    }
    if (!into_buffer) return n;
    off_ = 0;
    len_ = static_cast<size_t>(n);
    return read(ptr, size);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (!is_writable()) return -1;
    ssize_t n;
    do {
      n = ::send(sock_, ptr, size, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    Address(true, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    Address(false, ip, port);
  }
  socket_t socket() const override { return sock_; }

 private:
  // Readable within both the per-read timeout and the request deadline.
  bool WaitRead() const {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline_ - SteadyClock::now()).count();
    if (left <= 0) {
      CurrentRequest().body_timed_out = true;
      return false;
    }
    const int r = Poll(POLLIN, static_cast<int>(std::min<int64_t>(left, limits_.io_timeout_ms)));
    if (r == 0 && left <= limits_.io_timeout_ms) CurrentRequest().body_timed_out = true;
    return r > 0;
  }
  int Poll(short events, int timeout_ms) const {
    pollfd p{sock_, events, 0};
    int r;
    do {
      r = ::poll(&p, 1, timeout_ms);
    } while (r < 0 && errno == EINTR);
    if (r > 0 && (p.revents & (POLLERR | POLLNVAL))) return -1;
    return r;
  }
  void Address(bool peer, std::string& ip, int& port) const {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    const int r = peer ? ::getpeername(sock_, reinterpret_cast<sockaddr*>(&addr), &len)
                       : ::getsockname(sock_, reinterpret_cast<sockaddr*>(&addr), &len);
    if (r != 0) return;
    char host[NI_MAXHOST], serv[NI_MAXSERV];
    if (::getnameinfo(reinterpret_cast<sockaddr*>(&addr), len, host, sizeof host, serv,
                      sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
      ip = host;
      port = std::atoi(serv);
    }
  }

  socket_t sock_;
  const ConnectionLimits& limits_;
  std::array<char, 4096> buf_{};
  size_t off_ = 0, len_ = 0;
  SteadyClock::time_point start_, deadline_;
  size_t read_ = 0, budget_ = 0;
};

thread_local DeadlineStream* tl_stream = nullptr;
thread_local RequestTrace tl_trace;

thread_local char tl_crash_id_buf[32] = "none";

void StartTrace() {
  tl_trace = RequestTrace{};
  tl_trace.request_id = NewRequestId();
  tl_trace.started = SteadyClock::now();
  std::snprintf(tl_crash_id_buf, sizeof tl_crash_id_buf, "%s", tl_trace.request_id.c_str());
}

class ConnectionThreads final : public httplib::TaskQueue {
 public:
  explicit ConnectionThreads(size_t max_threads) : max_threads_(std::max<size_t>(1, max_threads)) {}
  ~ConnectionThreads() override { shutdown(); }

  void enqueue(std::function<void()> fn) override {
    std::lock_guard lock(mu_);
    jobs_.push_back(std::move(fn));
    // Idle threads already woken for earlier jobs have not taken them yet: a new thread is
    // needed whenever the jobs waiting outnumber the idle threads.
    if (jobs_.size() > idle_ && threads_.size() < max_threads_) {
      threads_.emplace_back([this] { Work(); });
    } else {
      cv_.notify_one();
    }
  }

  void shutdown() override {
    {
      std::lock_guard lock(mu_);
      if (shutdown_) return;
      shutdown_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();  // enqueue is not called once shutdown starts
  }

 private:
  void Work() {
    std::unique_lock lock(mu_);
    for (;;) {
      ++idle_;
      cv_.wait(lock, [this] { return shutdown_ || !jobs_.empty(); });
      --idle_;
      if (jobs_.empty()) return;  // shut down, nothing left to run
      auto fn = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      fn();
      lock.lock();
    }
  }

  const size_t max_threads_;
  std::mutex mu_;  // guards jobs_, threads_, idle_, shutdown_
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  size_t idle_ = 0;
  bool shutdown_ = false;
};

void WriteAll(socket_t sock, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = ::send(sock, s.data() + off, s.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

// The crash line is built with async-signal-safe calls only (write, no allocation): the
// request id is copied into a fixed per-thread buffer when each request starts.
[[maybe_unused]] void OnFatalSignal(int sig) {
  char line[160];
  size_t n = 0;
  auto put = [&](const char* s) {
    while (*s && n + 1 < sizeof line) line[n++] = *s++;
  };
  char num[8];
  int v = sig, k = 0;
  do {
    num[k++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v > 0 && k < 7);
  put("facepay: FATAL signal ");
  while (k > 0 && n + 1 < sizeof line) line[n++] = num[--k];
  put(" while serving request ");
  put(tl_crash_id_buf);
  put("\n");
  (void)!::write(2, line, n);
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

// The answer went out with the client's body still arriving: closing now would make the
// kernel reset the connection, which can destroy the answer before the client reads it. So
// stop sending, then read and drop what is still coming for a short while (nginx's
// lingering close), bounded in time and bytes.
void LingeringClose(socket_t sock) {
  ::shutdown(sock, SHUT_WR);
  const auto until = SteadyClock::now() + std::chrono::seconds(2);
  size_t dropped = 0;
  char buf[16384];
  while (dropped < (64u << 20)) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(until - SteadyClock::now()).count();
    if (left <= 0) break;
    pollfd p{sock, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) break;
    const ssize_t n = ::recv(sock, buf, sizeof buf, 0);
    if (n <= 0) break;
    dropped += static_cast<size_t>(n);
  }
}

}  // namespace

RequestTrace& CurrentRequest() { return tl_trace; }

void InstallCrashLog() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return;
#else
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) {
    struct sigaction sa {};
    sa.sa_handler = OnFatalSignal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND | SA_ONSTACK;
    ::sigaction(sig, &sa, nullptr);
  }
#endif
}

HardenedServer::HardenedServer(ConnectionLimits limits) : limits_(limits) {
  keep_alive_timeout_sec_ = std::max(1, limits_.keep_alive_ms / 1000);
}

void HardenedServer::WidenBacklog(int backlog) {
  if (svr_sock_ != INVALID_SOCKET) ::listen(svr_sock_, backlog);  // re-listen resizes the queue
}

void HardenedServer::BeginBody() {
  if (tl_stream != nullptr) {
    tl_stream->BeginBody();
  } else {
    StartTrace();  // a connection this class does not serve (TLS): one trace per request
  }
}

bool HardenedServer::process_and_close_socket(socket_t sock) {
  struct Active {
    std::atomic<int>& n;
    ~Active() { --n; }
  } active{active_};
  bool ret = false;
  if (++active_ > limits_.max_connections) {
    const std::string body =
        R"({"error": {"code": "too_many_connections", "message": "the server is at its connection limit; retry shortly"}})";
    WriteAll(sock, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                   "Retry-After: 1\r\nConnection: close\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\n\r\n" + body);
  } else {
    DeadlineStream strm(sock, limits_);
    tl_stream = &strm;
    size_t left = keep_alive_max_count_;
    auto stopped = [this] { return svr_sock_ == INVALID_SOCKET; };
    while (left > 0 && strm.WaitForRequest(limits_.keep_alive_ms, stopped)) {
      strm.BeginRequest();
      StartTrace();
      bool closed = false;
      ret = process_request(strm, left == 1, closed, nullptr);
      const RequestTrace& t = tl_trace;
      if (t.body_over_limit || t.close_connection) {
        LingeringClose(sock);
        break;
      }
      if (!ret || closed || t.body_timed_out) break;
      --left;
    }
    tl_stream = nullptr;
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ret;
}

httplib::TaskQueue* NewConnectionThreads(size_t max_threads) {
  return new ConnectionThreads(max_threads);
}

}  // namespace facepay::service
