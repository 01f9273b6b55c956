#include "facepay/service/http_status.h"

#include <string_view>

namespace facepay::service {
namespace {

// Reasons whose HTTP code differs from their status code's default.
int OverrideFor(std::string_view reason) {
  if (reason == "image_too_large" || reason == "image_too_many_pixels" ||
      reason == "payload_too_large" || reason == "too_many_images") {
    return 413;
  }
  if (reason == "unsupported_media_type" || reason == "image_unsupported_format") return 415;
  if (reason == "image_corrupt" || reason == "image_truncated" || reason == "image_empty" ||
      reason == "invalid_template") {
    return 422;
  }
  return 0;
}

}  // namespace

int HttpStatusOf(const Status& s) {
  if (s.ok()) return 200;
  if (int o = OverrideFor(s.reason())) return o;
  switch (s.code()) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kUnauthenticated: return 401;
    case StatusCode::kPermissionDenied: return 403;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition: return 409;
    case StatusCode::kResourceExhausted: return 429;
    case StatusCode::kUnavailable: return 503;
    case StatusCode::kDataLoss:
    case StatusCode::kInternal: return 500;
  }
  return 500;
}

nlohmann::json ErrorJson(const Status& s) {
  const int http = HttpStatusOf(s);
  if (http >= 500 && http != 503) {
    return {{"error", {{"code", "internal_error"}, {"message", "internal error; see the server log"}}}};
  }
  return {{"error", {{"code", std::string(s.reason())}, {"message", std::string(s.message())}}}};
}

}  // namespace facepay::service
