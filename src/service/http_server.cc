#include "http_server.h"

#include "facepay/service/auth.h"
#include "facepay/service/http_status.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
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
#include <type_traits>
#include <vector>

namespace facepay::service {
namespace {

using SteadyClock = std::chrono::steady_clock;

std::string NewRequestId() {
  std::string id = "r";  // appended: GCC 12 warns falsely (-Wrestrict) on "lit" + string
  return id += RandomHex(8);
}

// A socket stream whose reads stop at a deadline and a byte budget (both per request), with a
// small read buffer (httplib's line reader asks for one byte at a time). With `ssl` (the
// handshake done, the socket non-blocking) it reads and writes TLS records under the same
// deadlines; otherwise plain bytes.
class DeadlineStream final : public httplib::Stream {
 public:
  DeadlineStream(socket_t sock, const ConnectionLimits& limits, SSL* ssl = nullptr)
      : sock_(sock), limits_(limits), ssl_(ssl) {}

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
    if (buffered() > 0 || (ssl_ != nullptr && SSL_pending(ssl_) > 0)) return true;
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

  bool is_readable() const override {
    return buffered() > 0 || (ssl_ != nullptr && SSL_pending(ssl_) > 0) || WaitRead();
  }
  bool is_writable() const override { return Poll(POLLOUT, limits_.io_timeout_ms) > 0; }

  ssize_t read(char* ptr, size_t size) override {
    if (buffered() > 0) {
      const size_t n = std::min(size, buffered());
      std::memcpy(ptr, buf_.data() + off_, n);
      off_ += n;
      return static_cast<ssize_t>(n);
    }
    const bool into_buffer = size < buf_.size();
    const ssize_t n = Receive(into_buffer ? buf_.data() : ptr, into_buffer ? buf_.size() : size);
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
    if (ssl_ != nullptr) return WriteTls(ptr, size);
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
  // One read from the socket or the TLS session, waiting within the deadlines.
  ssize_t Receive(char* out, size_t size) {
    if (ssl_ == nullptr) {
      if (!WaitRead()) return -1;
      ssize_t n;
      do {
        n = ::recv(sock_, out, size, 0);
      } while (n < 0 && errno == EINTR);
      return n;
    }
    const int want = static_cast<int>(std::min<size_t>(size, 1u << 30));
    for (;;) {
      const int n = SSL_read(ssl_, out, want);
      if (n > 0) return n;
      switch (SSL_get_error(ssl_, n)) {
        case SSL_ERROR_WANT_READ:
          if (!WaitRead()) return -1;  // a record trickling in still meets the deadline
          break;
        case SSL_ERROR_WANT_WRITE:
          if (Poll(POLLOUT, limits_.io_timeout_ms) <= 0) return -1;
          break;
        case SSL_ERROR_ZERO_RETURN:
          return 0;
        default:
          ERR_clear_error();
          return -1;
      }
    }
  }
  ssize_t WriteTls(const char* ptr, size_t size) {
    if (size == 0) return 0;
    const int want = static_cast<int>(std::min<size_t>(size, 1u << 30));
    for (;;) {
      const int n = SSL_write(ssl_, ptr, want);  // retried with the same arguments, as required
      if (n > 0) return n;
      const int err = SSL_get_error(ssl_, n);
      const short ev = err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
      if ((err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) ||
          Poll(ev, limits_.io_timeout_ms) <= 0) {
        ERR_clear_error();
        return -1;
      }
    }
  }
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
  SSL* ssl_;  // not owned; null: plain HTTP
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

ConnectionAdmission::Verdict ConnectionAdmission::Admit(const std::string& address) {
  std::lock_guard lock(mu_);
  if (active_.load() >= limits_.max_connections) return Verdict::kServerFull;
  int& mine = per_address_[address];
  if (mine >= limits_.max_connections_per_address) {
    if (mine == 0) per_address_.erase(address);
    return Verdict::kAddressFull;
  }
  ++mine;
  ++active_;
  return Verdict::kAdmitted;
}

void ConnectionAdmission::Release(const std::string& address) {
  std::lock_guard lock(mu_);
  auto it = per_address_.find(address);
  if (it != per_address_.end() && --it->second <= 0) per_address_.erase(it);
  --active_;
}

void BeginRequestBody() {
  if (tl_stream != nullptr) {
    tl_stream->BeginBody();
  } else {
    StartTrace();  // a connection these classes do not serve: one trace per request
  }
}

namespace {

std::string PeerAddress(socket_t sock) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getpeername(sock, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "?";
  char host[NI_MAXHOST];
  if (::getnameinfo(reinterpret_cast<sockaddr*>(&addr), len, host, sizeof host, nullptr, 0,
                    NI_NUMERICHOST) != 0) {
    return "?";
  }
  return host;
}

void RefuseConnection(socket_t sock, bool tls, ConnectionAdmission::Verdict v) {
  if (tls) return;  // a plain-text answer means nothing to a TLS client: the close says it
  const Status why =
      v == ConnectionAdmission::Verdict::kServerFull
          ? Unavailable("too_many_connections", "the server is at its connection limit; retry shortly")
          : Unavailable("too_many_connections_from_address",
                        "this address holds as many connections as one address may; close some or retry shortly");
  const std::string body = ErrorJson(why).dump();
  WriteAll(sock, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                 "Retry-After: 1\r\nConnection: close\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n" + body);
}

// The TLS handshake on a non-blocking socket, finished within `deadline_ms` whatever the
// client trickles. Returns the session or null (the caller closes the socket).
SSL* AcceptTls(SSL_CTX* ctx, socket_t sock, int deadline_ms) {
  if (ctx == nullptr) return nullptr;
  const int flags = ::fcntl(sock, F_GETFL, 0);
  if (flags < 0 || ::fcntl(sock, F_SETFL, flags | O_NONBLOCK) != 0) return nullptr;
  SSL* ssl = SSL_new(ctx);
  if (ssl == nullptr) return nullptr;
  SSL_set_fd(ssl, sock);
  const auto until = SteadyClock::now() + std::chrono::milliseconds(deadline_ms);
  for (;;) {
    const int r = SSL_accept(ssl);
    if (r == 1) return ssl;
    const int err = SSL_get_error(ssl, r);
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(until - SteadyClock::now()).count();
    if ((err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) || left <= 0) break;
    pollfd p{sock, static_cast<short>(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
    int pr;
    do {
      pr = ::poll(&p, 1, static_cast<int>(left));
    } while (pr < 0 && errno == EINTR);
    if (pr <= 0 || (p.revents & (POLLERR | POLLNVAL))) break;
  }
  ERR_clear_error();
  SSL_free(ssl);
  return nullptr;
}

template <class Base>
constexpr bool kIsTls = std::is_base_of_v<httplib::SSLServer, Base>;

SSL_CTX* ContextOf(httplib::Server&) { return nullptr; }
SSL_CTX* ContextOf(httplib::SSLServer& s) { return s.ssl_context(); }

}  // namespace

template <class Base>
void Hardened<Base>::WidenBacklog(int backlog) {
  if (this->svr_sock_ != INVALID_SOCKET) ::listen(this->svr_sock_, backlog);  // resizes the queue
}

template <class Base>
bool Hardened<Base>::process_and_close_socket(socket_t sock) {
  const std::string address = PeerAddress(sock);
  const auto verdict = admission_.Admit(address);
  bool ret = false;
  if (verdict != ConnectionAdmission::Verdict::kAdmitted) {
    RefuseConnection(sock, kIsTls<Base>, verdict);
  } else {
    SSL* ssl = nullptr;
    const bool ready = !kIsTls<Base> ||
                       (ssl = AcceptTls(ContextOf(*this), sock, limits_.header_timeout_ms)) != nullptr;
    if (ready) {
      DeadlineStream strm(sock, limits_, ssl);
      tl_stream = &strm;
      size_t left = this->keep_alive_max_count_;
      auto stopped = [this] { return this->svr_sock_ == INVALID_SOCKET; };
      while (left > 0 && strm.WaitForRequest(limits_.keep_alive_ms, stopped)) {
        strm.BeginRequest();
        StartTrace();
        bool closed = false;
        ret = this->process_request(strm, left == 1, closed, nullptr);
        const RequestTrace& t = tl_trace;
        if (t.body_over_limit || t.close_connection) {
          if (ssl != nullptr) SSL_shutdown(ssl);  // one attempt: the socket is non-blocking
          LingeringClose(sock);
          break;
        }
        if (!ret || closed || t.body_timed_out) break;
        --left;
      }
      tl_stream = nullptr;
      if (ssl != nullptr) {
        SSL_shutdown(ssl);
        ERR_clear_error();
        SSL_free(ssl);
      }
    }
    admission_.Release(address);
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ret;
}

template class Hardened<httplib::Server>;
template class Hardened<httplib::SSLServer>;

httplib::TaskQueue* NewConnectionThreads(size_t max_threads) {
  return new ConnectionThreads(max_threads);
}

}  // namespace facepay::service
