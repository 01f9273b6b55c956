// PaymentProvider: the card network side (a PSP holding the real card behind a token).
// facepay stores only the token; the provider is asked to capture an amount. Calls carry the
// idempotency key, so a retried capture after a timeout never charges the card twice.
// Implementations must be thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "facepay/common/status_or.h"

namespace facepay::payments {

struct ProviderResult {
  bool approved = false;
  std::string decline_reason;  // when !approved, e.g. "card_declined"
  std::string provider_ref;    // the provider's id for the capture
};

class PaymentProvider {
 public:
  virtual ~PaymentProvider() = default;
  // Captures `amount_minor` from the card behind `token`. A decline is a value; a timeout or
  // outage is Unavailable("provider_timeout" / "provider_unavailable"): the caller may retry
  // with the same key.
  virtual StatusOr<ProviderResult> Capture(const std::string& token, int64_t amount_minor,
                                           const std::string& currency,
                                           const std::string& idempotency_key) = 0;
  virtual std::string Name() const = 0;
};

// In-process provider for tests and demos. Told what to do next; remembers captures by key
// (replays return the first answer), like a real PSP.
class SimulatedProvider final : public PaymentProvider {
 public:
  enum class Mode { kApprove, kDecline, kTimeout, kFail };
  void SetMode(Mode m) {
    std::lock_guard<std::mutex> lock(mu_);
    mode_ = m;
  }
  StatusOr<ProviderResult> Capture(const std::string& token, int64_t amount_minor,
                                   const std::string& currency,
                                   const std::string& idempotency_key) override;
  std::string Name() const override { return "simulated"; }
  // Number of distinct approved captures and their total (what the card was really charged).
  int64_t approved_captures() const;
  int64_t captured_minor() const;

 private:
  mutable std::mutex mu_;  // guards mode_, by_key_
  Mode mode_ = Mode::kApprove;
  struct Capture_ {
    ProviderResult result;
    int64_t amount_minor;
  };
  std::map<std::string, Capture_> by_key_;
};

}  // namespace facepay::payments
