// What the SQLite and PostgreSQL service stores share: bounds checks on every write, the
// encoding of a key's bindings and the order in which a challenge is refused.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "facepay/common/status_or.h"
#include "facepay/service/service_store.h"

namespace facepay::storage {

inline constexpr int kServiceSchemaVersion = 4;

inline constexpr size_t kMaxKeyIdLen = 64;
inline constexpr size_t kMaxRoleLen = 32;
inline constexpr size_t kMaxActionLen = 32;
inline constexpr size_t kMaxIdLen = 128;  // subject, account, scope, key, target, terminal...
inline constexpr size_t kMaxLabelLen = 256;
inline constexpr size_t kMaxBindings = 1000;
inline constexpr size_t kMaxDetailJsonBytes = 64 * 1024;
inline constexpr size_t kMaxPayloadJsonBytes = 64 * 1024;
inline constexpr size_t kMaxResponseJsonBytes = 1024 * 1024;
inline constexpr int kMaxAuditLimit = 1000;

Status ValidateKeyId(const std::string& key_id);
Status ValidateKey(const service::ApiKeyRecord& key);
Status ValidateAudit(const service::AuditRecord& rec);
Status ValidateAuditQuery(const service::AuditQuery& q);
Status ValidateSubjectId(const std::string& subject_id);
Status ValidateLink(const std::string& subject_id, const std::string& account_id);
Status ValidateAccountId(const std::string& account_id);
Status ValidateRequestKey(const std::string& scope, const std::string& key);
Status ValidateRequest(const service::RequestRecord& rec);
Status ValidateChallengeId(const std::string& id);
// A factor budget scope: 1..200 printable ASCII bytes. InvalidArgument("invalid_budget_scope").
Status ValidateBudgetScope(const std::string& scope);
// A camera name is 1..200 printable bytes; a state at most kMaxCameraStateBytes.
inline constexpr size_t kMaxCameraStateBytes = 64u << 10;
Status ValidateCameraName(const std::string& camera);
Status ValidateCameraState(const std::string& state_json);
Status ValidateChallenge(const service::Challenge& c);
Status ValidateCardId(const std::string& card_id);
Status ValidateCard(const service::CardRecord& card);

// Bindings are kept as a JSON array of strings in one column.
std::string EncodeBindings(const std::vector<std::string>& bindings);
// DataLoss("store_corrupt") when the column does not hold such an array.
StatusOr<std::vector<std::string>> DecodeBindings(const std::string& json);

// Why `c` (as stored) cannot be taken at `now_ms`, in the contract's order: used, expired,
// exhausted. Ok when it can.
Status RefuseChallenge(const service::Challenge& c, int64_t now_ms);

}  // namespace facepay::storage
