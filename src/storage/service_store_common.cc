#include "service_store_common.h"

#include <algorithm>

#include <cmath>
#include <nlohmann/json.hpp>

namespace facepay::storage {
namespace {

// `what` names the field in the message; `reason` is the stable token for a bad length.
Status CheckField(const std::string& value, const char* what, size_t min_len, size_t max_len,
                  const char* reason) {
  if (value.find('\0') != std::string::npos) {
    std::string msg = what;
    msg += " contains a NUL byte";
    return InvalidArgument("invalid_field", msg);
  }
  if (value.size() < min_len || value.size() > max_len) {
    std::string msg = what;
    msg += " must be ";
    msg += std::to_string(min_len);
    msg += "..";
    msg += std::to_string(max_len);
    msg += " bytes, got ";
    msg += std::to_string(value.size());
    return InvalidArgument(reason, msg);
  }
  return Status::Ok();
}

}  // namespace

Status ValidateKeyId(const std::string& key_id) {
  return CheckField(key_id, "key_id", 1, kMaxKeyIdLen, "invalid_key_id");
}

Status ValidateKey(const service::ApiKeyRecord& key) {
  FACEPAY_RETURN_IF_ERROR(ValidateKeyId(key.key_id));
  FACEPAY_RETURN_IF_ERROR(CheckField(key.role, "role", 1, kMaxRoleLen, "invalid_role"));
  FACEPAY_RETURN_IF_ERROR(
      CheckField(key.secret_hash, "secret_hash", 1, kMaxIdLen, "invalid_secret_hash"));
  FACEPAY_RETURN_IF_ERROR(CheckField(key.label, "label", 0, kMaxLabelLen, "field_too_long"));
  if (key.bindings.size() > kMaxBindings) {
    return InvalidArgument("too_many_bindings", "a key may be bound to at most 1000 terminals");
  }
  for (const auto& b : key.bindings) {
    FACEPAY_RETURN_IF_ERROR(CheckField(b, "binding", 1, kMaxIdLen, "invalid_binding"));
  }
  if (!std::isfinite(key.rate_per_s) || key.rate_per_s < 0) {
    return InvalidArgument("invalid_rate", "rate_per_s must be a finite number >= 0");
  }
  if (key.created_at_ms < 0 || key.revoked_at_ms < 0) {
    return InvalidArgument("invalid_time", "times must be >= 0");
  }
  return Status::Ok();
}

Status ValidateAudit(const service::AuditRecord& rec) {
  FACEPAY_RETURN_IF_ERROR(CheckField(rec.action, "action", 1, kMaxActionLen, "invalid_action"));
  FACEPAY_RETURN_IF_ERROR(CheckField(rec.actor, "actor", 0, kMaxIdLen, "field_too_long"));
  FACEPAY_RETURN_IF_ERROR(CheckField(rec.target, "target", 0, kMaxIdLen, "field_too_long"));
  FACEPAY_RETURN_IF_ERROR(CheckField(rec.outcome, "outcome", 0, kMaxActionLen, "field_too_long"));
  return CheckField(rec.detail_json, "detail_json", 0, kMaxDetailJsonBytes, "detail_too_large");
}

Status ValidateAuditQuery(const service::AuditQuery& q) {
  if (q.limit < 1 || q.limit > kMaxAuditLimit) {
    return InvalidArgument("invalid_limit",
                           "limit must be 1..1000, got " + std::to_string(q.limit));
  }
  if (q.after_seq < 0) return InvalidArgument("invalid_seq", "after_seq must be >= 0");
  FACEPAY_RETURN_IF_ERROR(CheckField(q.action, "action", 0, kMaxActionLen, "invalid_action"));
  return CheckField(q.target, "target", 0, kMaxIdLen, "field_too_long");
}

Status ValidateSubjectId(const std::string& subject_id) {
  return CheckField(subject_id, "subject_id", 1, kMaxIdLen, "invalid_subject_id");
}

Status ValidateAccountId(const std::string& account_id) {
  return CheckField(account_id, "account_id", 1, kMaxIdLen, "invalid_account_id");
}

Status ValidateLink(const std::string& subject_id, const std::string& account_id) {
  FACEPAY_RETURN_IF_ERROR(ValidateSubjectId(subject_id));
  return ValidateAccountId(account_id);
}

Status ValidateRequestKey(const std::string& scope, const std::string& key) {
  FACEPAY_RETURN_IF_ERROR(CheckField(scope, "scope", 1, kMaxIdLen, "invalid_scope"));
  return CheckField(key, "key", 1, kMaxIdLen, "invalid_request_key");
}

Status ValidateRequest(const service::RequestRecord& rec) {
  FACEPAY_RETURN_IF_ERROR(ValidateRequestKey(rec.scope, rec.key));
  FACEPAY_RETURN_IF_ERROR(
      CheckField(rec.fingerprint, "fingerprint", 0, kMaxIdLen, "field_too_long"));
  if (rec.status_code < 100 || rec.status_code > 599) {
    return InvalidArgument("invalid_status_code", "status_code must be 100..599");
  }
  return CheckField(rec.response_json, "response_json", 0, kMaxResponseJsonBytes,
                    "response_too_large");
}

Status ValidateBudgetScope(const std::string& scope) {
  const bool printable = std::all_of(scope.begin(), scope.end(), [](char c) {
    return static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7f;
  });
  if (scope.empty() || scope.size() > 200 || !printable) {
    return InvalidArgument("invalid_budget_scope", "a budget scope is 1..200 printable bytes");
  }
  return Status::Ok();
}

Status ValidateCameraName(const std::string& camera) {
  const bool printable = std::all_of(camera.begin(), camera.end(), [](char c) {
    return static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7f;
  });
  if (camera.empty() || camera.size() > 200 || !printable) {
    return InvalidArgument("invalid_camera", "a camera name is 1..200 printable bytes");
  }
  return Status::Ok();
}

Status ValidateCameraState(const std::string& state_json) {
  if (state_json.size() > kMaxCameraStateBytes) {
    return InvalidArgument("camera_state_too_large", "a camera state is at most 64 KiB");
  }
  return Status::Ok();
}

Status ValidateChallengeId(const std::string& id) {
  return CheckField(id, "challenge id", 1, kMaxIdLen, "invalid_challenge_id");
}

Status ValidateCardId(const std::string& card_id) {
  return CheckField(card_id, "card_id", 1, kMaxKeyIdLen, "invalid_card_id");
}

Status ValidateCard(const service::CardRecord& card) {
  FACEPAY_RETURN_IF_ERROR(ValidateCardId(card.card_id));
  FACEPAY_RETURN_IF_ERROR(
      CheckField(card.token_hash, "token_hash", 1, kMaxIdLen, "invalid_card_hash"));
  FACEPAY_RETURN_IF_ERROR(ValidateAccountId(card.account_id));
  if (card.created_at_ms <= 0 || card.revoked_at_ms < 0) {
    return InvalidArgument("invalid_time", "card times must be > 0 (revoked: >= 0)");
  }
  return Status::Ok();
}

Status ValidateChallenge(const service::Challenge& c) {
  FACEPAY_RETURN_IF_ERROR(ValidateChallengeId(c.id));
  FACEPAY_RETURN_IF_ERROR(CheckField(c.kind, "kind", 1, kMaxActionLen, "invalid_kind"));
  FACEPAY_RETURN_IF_ERROR(CheckField(c.terminal, "terminal", 0, kMaxIdLen, "field_too_long"));
  FACEPAY_RETURN_IF_ERROR(
      CheckField(c.payload_json, "payload_json", 0, kMaxPayloadJsonBytes, "payload_too_large"));
  if (c.attempts_left < 0) {
    return InvalidArgument("invalid_attempts", "attempts_left must be >= 0");
  }
  return Status::Ok();
}

std::string EncodeBindings(const std::vector<std::string>& bindings) {
  return nlohmann::json(bindings).dump();
}

StatusOr<std::vector<std::string>> DecodeBindings(const std::string& json) {
  try {
    auto v = nlohmann::json::parse(json);
    if (!v.is_array()) return DataLoss("store_corrupt", "key bindings are not a JSON array");
    return v.get<std::vector<std::string>>();
  } catch (const std::exception& e) {
    return DataLoss("store_corrupt", std::string("key bindings: ") + e.what());
  }
}

Status RefuseChallenge(const service::Challenge& c, int64_t now_ms) {
  if (c.used) return FailedPrecondition("challenge_used", "challenge was already used");
  if (now_ms > c.expires_at_ms) {
    return FailedPrecondition("challenge_expired", "challenge expired");
  }
  if (c.attempts_left <= 0) {
    return FailedPrecondition("challenge_exhausted", "no attempts left on the challenge");
  }
  return Status::Ok();
}

}  // namespace facepay::storage
