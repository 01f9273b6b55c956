#include "facepay/common/status.h"

namespace facepay {

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kInvalidArgument: return "invalid_argument";
    case StatusCode::kNotFound: return "not_found";
    case StatusCode::kAlreadyExists: return "already_exists";
    case StatusCode::kFailedPrecondition: return "failed_precondition";
    case StatusCode::kResourceExhausted: return "resource_exhausted";
    case StatusCode::kUnavailable: return "unavailable";
    case StatusCode::kDataLoss: return "data_loss";
    case StatusCode::kInternal: return "internal";
    case StatusCode::kUnauthenticated: return "unauthenticated";
    case StatusCode::kPermissionDenied: return "permission_denied";
  }
  return "unknown";
}

Status::Status(StatusCode code, std::string_view reason, std::string_view message) {
  if (code == StatusCode::kOk) return;
  std::string r(reason.empty() ? StatusCodeName(code) : reason);
  rep_ = std::make_shared<const Rep>(Rep{code, std::move(r), std::string(message)});
}

std::string_view Status::reason() const { return rep_ ? std::string_view(rep_->reason) : "ok"; }
std::string_view Status::message() const { return rep_ ? std::string_view(rep_->message) : ""; }

std::string Status::ToString() const {
  if (!rep_) return "ok";
  return rep_->reason + ": " + rep_->message;
}

#define FACEPAY_STATUS_CTOR(Name, Code)                                  \
  Status Name(std::string_view reason, std::string_view message) {      \
    return Status(StatusCode::Code, reason, message);                    \
  }
FACEPAY_STATUS_CTOR(InvalidArgument, kInvalidArgument)
FACEPAY_STATUS_CTOR(NotFound, kNotFound)
FACEPAY_STATUS_CTOR(AlreadyExists, kAlreadyExists)
FACEPAY_STATUS_CTOR(FailedPrecondition, kFailedPrecondition)
FACEPAY_STATUS_CTOR(ResourceExhausted, kResourceExhausted)
FACEPAY_STATUS_CTOR(Unavailable, kUnavailable)
FACEPAY_STATUS_CTOR(DataLoss, kDataLoss)
FACEPAY_STATUS_CTOR(Internal, kInternal)
FACEPAY_STATUS_CTOR(Unauthenticated, kUnauthenticated)
FACEPAY_STATUS_CTOR(PermissionDenied, kPermissionDenied)
#undef FACEPAY_STATUS_CTOR

}  // namespace facepay
