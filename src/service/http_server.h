// The HTTP server facepay listens with: cpp-httplib's request parser and router, with the
// connection handling replaced where an attacker without a key could starve it.
//
// cpp-httplib 0.11 serves each connection on one thread of a fixed pool and bounds each read
// only by a per-read timeout, so 8 connections trickling a header line every few seconds held
// every thread (slowloris), and a chunked or length-less body was read without limit. Here:
//   - a request's headers must arrive within `header_timeout_ms` of its first byte and its
//     body within `request_timeout_ms` (a total deadline, not per read);
//   - a body read is bounded by `max_body_bytes` whatever its framing (chunked included);
//     a POST/PUT/PATCH with neither Content-Length nor chunked framing is refused (411);
//   - connections get their own threads on demand (up to `max_connections`, then an
//     immediate 503), so slow clients cannot take the threads that answer everyone else;
//     the CPU-heavy route handlers are bounded separately by the service;
//   - one client address holds at most `max_connections_per_address` of them (then 503), so
//     one host cannot take the whole connection budget from the others.
// The same holds over TLS (HardenedTlsServer): the handshake must finish within the header
// deadline, and the TLS records are read through the same deadlines and byte budget
// (cpp-httplib's SSLServer bounds only each read, so a trickle of records held it forever).
#pragma once

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

namespace facepay::service {

struct ConnectionLimits {
  int header_timeout_ms = 10'000;   // first byte of a request -> end of its headers
  int request_timeout_ms = 60'000;  // first byte -> end of its body
  int io_timeout_ms = 5'000;        // any single read or write
  int keep_alive_ms = 5'000;        // idle time between requests on one connection
  size_t max_header_bytes = 64u << 10;
  size_t max_body_bytes = 48u << 20;
  int max_connections = 512;
  int max_connections_per_address = 128;
};

// What the connection layer knows of the request being served on this thread: read by the
// route dispatcher (request id) and by the access log; reset for every request.
struct RequestTrace {
  std::string request_id;
  std::chrono::steady_clock::time_point started;
  std::string route = "unmatched";  // the route spec's path, once matched
  std::string key_id;               // the authenticated key, once known
  bool body_over_limit = false;     // the body outgrew max_body_bytes (-> 413)
  bool body_timed_out = false;      // the request deadline passed while reading (-> 408)
  bool close_connection = false;    // the answer ends the connection (body left unread)
};
// The trace of the request this thread serves; a fresh one per request. Never null.
RequestTrace& CurrentRequest();

// What the service needs of either hardened server, plain or TLS.
class HardenedListener {
 public:
  virtual ~HardenedListener() = default;
  // cpp-httplib listens with a backlog of 5: a burst of connections (100 clients at once, or
  // an attacker's) then waits out SYN retransmits of 1 s and more. Called after binding.
  virtual void WidenBacklog(int backlog) = 0;
  virtual int active_connections() const = 0;
};

// Counts open connections, in total and per client address. Thread-safe.
class ConnectionAdmission {
 public:
  enum class Verdict { kAdmitted, kServerFull, kAddressFull };
  explicit ConnectionAdmission(const ConnectionLimits& limits) : limits_(limits) {}
  // kAdmitted counts the connection: call Release(address) when it ends. Otherwise nothing
  // is counted.
  Verdict Admit(const std::string& address);
  void Release(const std::string& address);
  int active() const { return active_.load(); }

 private:
  const ConnectionLimits& limits_;
  std::atomic<int> active_{0};
  std::mutex mu_;                             // guards per_address_
  std::unordered_map<std::string, int> per_address_;  // only addresses with open connections
};

// `Base` is httplib::Server (plain HTTP) or httplib::SSLServer (TLS); the connection loop is
// the same, the TLS one first runs the handshake under the header deadline.
template <class Base>
class Hardened final : public Base, public HardenedListener {
 public:
  template <class... Args>
  explicit Hardened(ConnectionLimits limits, Args&&... base_args)
      : Base(std::forward<Args>(base_args)...), limits_(limits), admission_(limits_) {
    this->keep_alive_timeout_sec_ = std::max(1, limits_.keep_alive_ms / 1000);
  }
  const ConnectionLimits& limits() const { return limits_; }
  int active_connections() const override { return admission_.active(); }
  void WidenBacklog(int backlog) override;

 private:
  bool process_and_close_socket(socket_t sock) override;
  ConnectionLimits limits_;
  ConnectionAdmission admission_;
};
using HardenedServer = Hardened<httplib::Server>;
using HardenedTlsServer = Hardened<httplib::SSLServer>;

// Called from the pre-routing handler once a request's headers are parsed: switches this
// connection from the header deadline to the body deadline and byte budget.
void BeginRequestBody();

// A task queue that runs each connection on its own thread, starting threads on demand up to
// `max_threads` (threads then stay for reuse). Thread-safe; shutdown() joins every thread.
httplib::TaskQueue* NewConnectionThreads(size_t max_threads);

}  // namespace facepay::service
