// Status: the result of an operation that can fail, as a value (LevelDB/Abseil style).
//
// A Status carries a coarse code (what kind of failure, used for HTTP mapping and retries),
// a stable machine-readable reason token (for example "image_truncated"; part of the public
// contract of CLI JSON output and the HTTP API, never renamed) and a human message.
// Normal business outcomes (no face, spoof, declined payment) are NOT errors: they are
// returned as result values. Status is cheap to copy when ok. Not thread-safe to mutate.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace facepay {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kFailedPrecondition,
  kResourceExhausted,
  kUnavailable,
  kDataLoss,
  kInternal,
  kUnauthenticated,   // no or bad credentials
  kPermissionDenied,  // credentials fine, not allowed to do this
};

// Returns a stable lower_snake name for `code` ("invalid_argument", ...).
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok
  Status(StatusCode code, std::string_view reason, std::string_view message);

  static Status Ok() { return Status(); }

  bool ok() const { return rep_ == nullptr; }
  StatusCode code() const { return rep_ ? rep_->code : StatusCode::kOk; }
  // Stable reason token; "ok" when ok, otherwise never empty.
  std::string_view reason() const;
  std::string_view message() const;
  // "reason: message" for logs.
  std::string ToString() const;

 private:
  struct Rep {
    StatusCode code;
    std::string reason;
    std::string message;
  };
  std::shared_ptr<const Rep> rep_;
};

// Convenience constructors. `reason` is a stable token, `message` is for humans.
Status InvalidArgument(std::string_view reason, std::string_view message);
Status NotFound(std::string_view reason, std::string_view message);
Status AlreadyExists(std::string_view reason, std::string_view message);
Status FailedPrecondition(std::string_view reason, std::string_view message);
Status ResourceExhausted(std::string_view reason, std::string_view message);
Status Unavailable(std::string_view reason, std::string_view message);
Status DataLoss(std::string_view reason, std::string_view message);
Status Internal(std::string_view reason, std::string_view message);
Status Unauthenticated(std::string_view reason, std::string_view message);
Status PermissionDenied(std::string_view reason, std::string_view message);

}  // namespace facepay

// Returns early from the calling function when `expr` yields a non-ok Status.
// The local's name carries __LINE__ so nested uses (e.g. inside a lambda) never shadow.
#define FACEPAY_RETURN_IF_ERROR(expr) \
  FACEPAY_RETURN_IF_ERROR_IMPL_(FACEPAY_STATUS_CONCAT_(facepay_status_, __LINE__), expr)
#define FACEPAY_STATUS_CONCAT_INNER_(a, b) a##b
#define FACEPAY_STATUS_CONCAT_(a, b) FACEPAY_STATUS_CONCAT_INNER_(a, b)
#define FACEPAY_RETURN_IF_ERROR_IMPL_(var, expr) \
  do {                                           \
    ::facepay::Status var = (expr);              \
    if (!var.ok()) return var;                   \
  } while (0)
