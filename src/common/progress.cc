#include "facepay/common/progress.h"

#include <unistd.h>

namespace facepay {

Progress::Progress(std::string label, size_t total, std::FILE* out, bool enabled)
    : label_(std::move(label)),
      total_(total),
      out_(out),
      enabled_(enabled && total > 0),
      tty_(isatty(fileno(out)) != 0),
      start_(std::chrono::steady_clock::now()),
      last_print_(start_) {}

Progress::~Progress() {
  if (enabled_) Print(done_.load(), true);
}

void Progress::Tick(size_t n) {
  const size_t d = done_.fetch_add(n) + n;
  if (!enabled_) return;
  std::lock_guard<std::mutex> lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  if (tty_) {
    if (now - last_print_ < std::chrono::milliseconds(200)) return;
  } else {
    const size_t decile = d * 10 / total_;
    if (decile <= last_decile_) return;
    last_decile_ = decile;
  }
  last_print_ = now;
  Print(d, false);
}

void Progress::Print(size_t d, bool final) {
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = s > 0 ? static_cast<double>(d) / s : 0;
  const double eta = rate > 0 ? static_cast<double>(total_ - std::min(d, total_)) / rate : 0;
  std::fprintf(out_, "%s[%s] %zu/%zu (%.0f%%) %.1f/s %s %.0fs%s", tty_ ? "\r" : "",
               label_.c_str(), d, total_, 100.0 * static_cast<double>(d) / static_cast<double>(total_),
               rate, final ? "took" : "eta", final ? s : eta, (final || !tty_) ? "\n" : "");
  std::fflush(out_);
}

}  // namespace facepay
