#include "facepay/payments/payment_provider.h"

namespace facepay::payments {

StatusOr<ProviderResult> SimulatedProvider::Capture(const std::string& token, int64_t amount_minor,
                                                    const std::string& /*currency*/,
                                                    const std::string& idempotency_key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_key_.find(idempotency_key);
  if (it != by_key_.end()) return it->second.result;  // a PSP replays the first answer
  switch (mode_) {
    case Mode::kTimeout:
      return Unavailable("provider_timeout", "card provider did not answer in time");
    case Mode::kFail:
      return Unavailable("provider_unavailable", "card provider failed");
    case Mode::kDecline: {
      ProviderResult r{false, "card_declined", ""};
      by_key_[idempotency_key] = {r, 0};
      return r;
    }
    case Mode::kApprove:
      break;
  }
  ProviderResult r{true, "", "sim-" + token + "-" + std::to_string(by_key_.size() + 1)};
  by_key_[idempotency_key] = {r, amount_minor};
  return r;
}

int64_t SimulatedProvider::approved_captures() const {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t n = 0;
  for (const auto& [k, c] : by_key_) n += c.result.approved ? 1 : 0;
  return n;
}

int64_t SimulatedProvider::captured_minor() const {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t total = 0;
  for (const auto& [k, c] : by_key_) total += c.result.approved ? c.amount_minor : 0;
  return total;
}

}  // namespace facepay::payments
