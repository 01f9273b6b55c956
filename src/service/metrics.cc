#include "facepay/service/metrics.h"

#include <algorithm>
#include <sstream>

namespace facepay::service {
namespace {

std::string Esc(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

void Metrics::ObserveRequest(const std::string& method, const std::string& route, int status,
                             double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_[{method, route, status}];
  Histogram& h = latency_[{method, route}];
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++h.le[i];
  }
  ++h.count;
  h.sum += seconds;
}

void Metrics::CountDecision(const std::string& flow, const std::string& outcome,
                            const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  ++decisions_[{flow, outcome, reason}];
}

std::string Metrics::Render(const std::vector<Gauge>& gauges) const {
  std::ostringstream o;
  std::lock_guard<std::mutex> lock(mu_);
  o << "# HELP facepay_http_requests_total HTTP requests by method, route and status code.\n"
    << "# TYPE facepay_http_requests_total counter\n";
  for (const auto& [k, n] : requests_) {
    o << "facepay_http_requests_total{method=\"" << Esc(std::get<0>(k)) << "\",route=\""
      << Esc(std::get<1>(k)) << "\",code=\"" << std::get<2>(k) << "\"} " << n << "\n";
  }
  o << "# HELP facepay_http_request_duration_seconds Request latency by method and route.\n"
    << "# TYPE facepay_http_request_duration_seconds histogram\n";
  for (const auto& [k, h] : latency_) {
    const std::string labels =
        "method=\"" + Esc(k.first) + "\",route=\"" + Esc(k.second) + "\"";
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      o << "facepay_http_request_duration_seconds_bucket{" << labels << ",le=\"" << kBuckets[i]
        << "\"} " << h.le[i] << "\n";
    }
    o << "facepay_http_request_duration_seconds_bucket{" << labels << ",le=\"+Inf\"} "
      << h.count << "\n";
    o << "facepay_http_request_duration_seconds_sum{" << labels << "} " << h.sum << "\n";
    o << "facepay_http_request_duration_seconds_count{" << labels << "} " << h.count << "\n";
  }
  o << "# HELP facepay_decisions_total Biometric decisions by flow, outcome and reason.\n"
    << "# TYPE facepay_decisions_total counter\n";
  for (const auto& [k, n] : decisions_) {
    o << "facepay_decisions_total{flow=\"" << Esc(std::get<0>(k)) << "\",outcome=\""
      << Esc(std::get<1>(k)) << "\",reason=\"" << Esc(std::get<2>(k)) << "\"} " << n << "\n";
  }
  // One HELP/TYPE per metric family, its samples together (the exposition format refuses a
  // family described twice): gauges are grouped by name, in first-seen order.
  std::vector<std::string> families;
  for (const Gauge& g : gauges) {
    const std::string base = g.name.substr(0, g.name.find('{'));
    if (std::find(families.begin(), families.end(), base) == families.end()) families.push_back(base);
  }
  for (const std::string& base : families) {
    bool described = false;
    for (const Gauge& g : gauges) {
      if (g.name.substr(0, g.name.find('{')) != base) continue;
      if (!described) o << "# HELP " << base << " " << g.help << "\n# TYPE " << base << " gauge\n";
      described = true;
      o << g.name << " " << g.value << "\n";
    }
  }
  return o.str();
}

}  // namespace facepay::service
