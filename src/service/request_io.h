// Reading requests: JSON bodies and images, as JSON with base64 strings or as
// multipart/form-data (file parts named "frames"/"images"/"document_photo"/"frame", other parts become
// JSON string fields). Everything is bounded; errors carry the reasons the API documents.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "facepay/common/status_or.h"

namespace facepay::service {

inline constexpr size_t kMaxImageBytes = 8u << 20;  // one encoded image
inline constexpr int kMaxFrames = 8;                 // images per request (a route may allow more)

struct Input {
  nlohmann::json fields = nlohmann::json::object();
  // Decoded image bytes by field name ("frames", "images", "document_photo", "frame": the one
  // frame of POST /v1/frames/check).
  std::map<std::string, std::vector<std::string>> images;
};

inline constexpr int kMaxJsonDepth = 16;         // nesting of objects and arrays
inline constexpr size_t kMaxJsonValues = 20'000;  // scalars + containers in one document

// Parses a JSON document with every dimension bounded before a tree is built (the tree code
// recurses: 100,000 nested objects overflowed the stack). Refuses: json_too_large (over
// `max_bytes` or kMaxJsonValues values), json_too_deep (past kMaxJsonDepth),
// json_duplicate_key (one object naming a key twice: no "last one wins"), malformed_json.
StatusOr<nlohmann::json> ParseBoundedJson(std::string_view text, size_t max_bytes);

// Content types: application/json or multipart/form-data, else 415 unsupported_media_type;
// empty_body, the ParseBoundedJson reasons, invalid_base64, too_many_images, image_too_large;
// duplicate_field (a form field twice). More than `max_images` images in all: too_many_images. Form fields are text: the API's numeric and boolean
// fields (amount_minor, txn_id, floor_minor, daily_limit_minor, frame_interval_ms, fuse) are
// converted here, strictly (invalid_<field>), so that the accessors below see one JSON type.
StatusOr<Input> ReadInput(const httplib::Request& req, int max_images = kMaxFrames);

// Field accessors with typed, bounded checks (reason invalid_<field> / missing_<field>).
StatusOr<std::string> RequiredString(const nlohmann::json& o, const char* key, size_t max_len);
StatusOr<std::string> OptionalString(const nlohmann::json& o, const char* key, size_t max_len);
// [A-Za-z0-9_.:-]{1,128}: event ids, order ids, account ids.
StatusOr<std::string> RequiredId(const nlohmann::json& o, const char* key);
// Positive int64 amount, a JSON integer (a string is refused): invalid_amount.
StatusOr<int64_t> RequiredAmount(const nlohmann::json& o, const char* key);
// Paging: limit 1..1000 (default 100) from the query string; invalid_limit.
StatusOr<int> QueryLimit(const httplib::Request& req);

}  // namespace facepay::service
