#include "facepay/biometrics/subject.h"

#include <cctype>

#include "facepay/biometrics/biometric_store.h"

namespace facepay::biometrics {
namespace {

bool AllDigits(std::string_view s) {
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

}  // namespace

Status ValidateSubjectId(std::string_view id) {
  if (id.empty() || id.size() > kMaxSubjectIdLength) {
    return InvalidArgument("invalid_subject_id", "subject id must be 1..64 characters");
  }
  for (char c : id) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == ':' ||
              c == '-';
    if (!ok) {
      return InvalidArgument("invalid_subject_id",
                             "subject id may only contain [A-Za-z0-9_.:-]: '" + std::string(id) +
                                 "'");
    }
  }
  return Status::Ok();
}

Status ValidatePhoneLast4(std::string_view digits) {
  if (digits.size() != 4 || !AllDigits(digits)) {
    return InvalidArgument("invalid_phone_last4", "phone last-4 must be exactly 4 digits");
  }
  return Status::Ok();
}

Status ValidatePin(std::string_view pin) {
  if (pin.size() < 4 || pin.size() > 8 || !AllDigits(pin)) {
    return InvalidArgument("invalid_pin", "PIN must be 4..8 digits");
  }
  return Status::Ok();
}

Status ValidateDisplayName(std::string_view name) {
  if (name.size() > kMaxDisplayNameLength) {
    return InvalidArgument("invalid_display_name", "display name is longer than 128 bytes");
  }
  for (char c : name) {
    if (static_cast<unsigned char>(c) < 0x20) {
      return InvalidArgument("invalid_display_name", "display name has control characters");
    }
  }
  return Status::Ok();
}

Status CheckTemplateCap(const std::string& subject_id, int64_t have, size_t adding,
                        int max_templates) {
  if (have + static_cast<int64_t>(adding) <= max_templates) return Status::Ok();
  std::string msg = "a subject has at most ";  // appended piecewise (GCC 12 -Wrestrict)
  msg.append(std::to_string(max_templates)).append(" templates; ").append(subject_id);
  msg.append(" has ").append(std::to_string(have));
  return FailedPrecondition("too_many_templates", msg);
}

}  // namespace facepay::biometrics
