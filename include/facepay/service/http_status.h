// One mapping from Status to HTTP: every error the API returns goes through HttpStatusOf and
// ErrorJson, so the same reason always gets the same code and body shape:
//   {"error": {"code": "<stable reason>", "message": "<human text>"}}
// Internal and data-loss errors are answered with a generic message (details go to the log).
#pragma once

#include <nlohmann/json.hpp>

#include "facepay/common/status.h"

namespace facepay::service {

// 400 invalid_argument, 401 unauthenticated, 403 permission_denied, 404 not_found,
// 409 already_exists / failed_precondition, 413 too large, 415 unsupported media type,
// 422 unprocessable image, 429 resource_exhausted, 503 unavailable, 500 otherwise.
int HttpStatusOf(const Status& s);
nlohmann::json ErrorJson(const Status& s);

}  // namespace facepay::service
