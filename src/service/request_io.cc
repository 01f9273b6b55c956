#include "request_io.h"

#include <sodium.h>

#include <cctype>
#include <cmath>
#include <unordered_set>
#include <charconv>
#include <regex>

namespace facepay::service {
namespace {

using nlohmann::json;

Status TooManyImages(int max_images) {
  return InvalidArgument("too_many_images",
                         "at most " + std::to_string(max_images) + " images per request");
}

bool IsImageField(const std::string& name) {
  return name == "frames" || name == "images" || name == "document_photo" || name == "frame";
}

StatusOr<std::string> DecodeBase64(std::string_view s) {
  if (auto comma = s.find(','); s.substr(0, 5) == "data:" && comma != std::string_view::npos) {
    s.remove_prefix(comma + 1);  // data URL: "data:image/jpeg;base64,...."
  }
  if (s.size() > kMaxImageBytes / 3 * 4 + 8) {
    return InvalidArgument("image_too_large", "an image is larger than 8 MiB");
  }
  std::string out(s.size() / 4 * 3 + 3, '\0');
  size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), s.data(),
                        s.size(), " \r\n", &len, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0) {
    return InvalidArgument("invalid_base64", "an image is not valid base64");
  }
  out.resize(len);
  if (out.empty()) return InvalidArgument("image_empty", "an image is empty");
  return out;
}

// Validates a document in one pass without building it: nlohmann's SAX parser keeps its own
// stack on the heap, so depth is checked before anything recurses.
class BoundedSax final : public nlohmann::json_sax<json> {
 public:
  Status status = Status::Ok();
  bool null() override { return Value(); }
  bool boolean(bool) override { return Value(); }
  bool number_integer(number_integer_t) override { return Value(); }
  bool number_unsigned(number_unsigned_t) override { return Value(); }
  bool number_float(number_float_t, const string_t&) override { return Value(); }
  bool string(string_t&) override { return Value(); }
  bool binary(binary_t&) override { return Value(); }
  bool start_object(std::size_t) override {
    if (!Open()) return false;
    keys_.emplace_back();
    return true;
  }
  bool key(string_t& k) override {
    if (!keys_.back().insert(k).second) {
      status = InvalidArgument("json_duplicate_key",
                               "the key '" + k.substr(0, 64) + "' appears twice in one object");
      return false;
    }
    return true;
  }
  bool end_object() override {
    keys_.pop_back();
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override { return Open(); }
  bool end_array() override {
    --depth_;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    status = InvalidArgument("malformed_json", "the body is not valid JSON");
    return false;
  }

 private:
  bool Value() {
    if (++values_ > kMaxJsonValues) {
      status = InvalidArgument("json_too_large", "the JSON document has more than " +
                                                     std::to_string(kMaxJsonValues) + " values");
      return false;
    }
    return true;
  }
  bool Open() {
    if (++depth_ > kMaxJsonDepth) {
      status = InvalidArgument("json_too_deep", "the JSON document nests deeper than " +
                                                    std::to_string(kMaxJsonDepth) + " levels");
      return false;
    }
    return Value();
  }
  int depth_ = 0;
  size_t values_ = 0;
  std::vector<std::unordered_set<std::string>> keys_;
};

enum class FormType { kText, kInteger, kNumber, kBoolean };

FormType FormTypeOf(const std::string& field) {
  if (field == "amount_minor" || field == "txn_id" || field == "floor_minor" ||
      field == "daily_limit_minor") {
    return FormType::kInteger;
  }
  if (field == "frame_interval_ms") return FormType::kNumber;
  if (field == "fuse") return FormType::kBoolean;
  return FormType::kText;
}

StatusOr<json> FormValue(const std::string& name, const std::string& text) {
  const char* b = text.data();
  const char* e = b + text.size();
  switch (FormTypeOf(name)) {
    case FormType::kText: return json(text);
    case FormType::kInteger: {
      int64_t v = 0;
      auto [p, ec] = std::from_chars(b, e, v);
      if (ec == std::errc() && p == e && !text.empty()) return json(v);
      break;
    }
    case FormType::kNumber: {
      double v = 0;
      auto [p, ec] = std::from_chars(b, e, v);
      if (ec == std::errc() && p == e && !text.empty() && std::isfinite(v)) return json(v);
      break;
    }
    case FormType::kBoolean:
      if (text == "true" || text == "false") return json(text == "true");
      break;
  }
  return InvalidArgument("invalid_" + name, "form field '" + name + "' is not a valid " +
                                                (FormTypeOf(name) == FormType::kBoolean
                                                     ? "boolean"
                                                     : "number"));
}

Status AddImage(Input& in, const std::string& field, std::string bytes, int max_images) {
  size_t total = 0;
  for (const auto& [k, v] : in.images) total += v.size();
  if (static_cast<int>(total) >= max_images) {  // found by fuzzing: a 9th image got in
    return TooManyImages(max_images);
  }
  if (bytes.size() > kMaxImageBytes) {
    return InvalidArgument("image_too_large", "an image is larger than 8 MiB");
  }
  if (bytes.empty()) return InvalidArgument("image_empty", "an image is empty");
  in.images[field].push_back(std::move(bytes));
  return Status::Ok();
}

}  // namespace

StatusOr<json> ParseBoundedJson(std::string_view text, size_t max_bytes) {
  if (text.size() > max_bytes) {
    return InvalidArgument("json_too_large", "the JSON document is larger than " +
                                                 std::to_string(max_bytes) + " bytes");
  }
  BoundedSax sax;
  try {
    if (!json::sax_parse(text, &sax) && sax.status.ok()) {
      return InvalidArgument("malformed_json", "the body is not valid JSON");
    }
  } catch (const std::exception&) {
    return InvalidArgument("malformed_json", "the body is not valid JSON");
  }
  FACEPAY_RETURN_IF_ERROR(sax.status);
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return InvalidArgument("malformed_json", "the body is not valid JSON");
  return j;
}

StatusOr<Input> ReadInput(const httplib::Request& req, int max_images) {
  Input in;
  const std::string ct = req.get_header_value("Content-Type");
  if (req.is_multipart_form_data()) {
    for (const auto& [name, file] : req.files) {
      if (IsImageField(name)) {
        FACEPAY_RETURN_IF_ERROR(AddImage(in, name, file.content, max_images));
      } else {
        if (file.content.size() > 4096) {
          return InvalidArgument("field_too_long", "form field '" + name + "' is too long");
        }
        if (in.fields.contains(name)) {
          return InvalidArgument("duplicate_field", "form field '" + name + "' is sent twice");
        }
        FACEPAY_ASSIGN_OR_RETURN(in.fields[name], FormValue(name, file.content));
      }
    }
    return in;
  }
  if (ct.rfind("application/json", 0) != 0) {
    return InvalidArgument("unsupported_media_type",
                           "send application/json or multipart/form-data");
  }
  if (req.body.empty()) return InvalidArgument("empty_body", "the request body is empty");
  FACEPAY_ASSIGN_OR_RETURN(json j, ParseBoundedJson(req.body, req.body.size()));
  if (!j.is_object()) return InvalidArgument("malformed_json", "the body must be a JSON object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!IsImageField(it.key())) {
      in.fields[it.key()] = it.value();
      continue;
    }
    const json& v = it.value();
    if (v.is_string()) {
      FACEPAY_ASSIGN_OR_RETURN(std::string b, DecodeBase64(v.get_ref<const std::string&>()));
      FACEPAY_RETURN_IF_ERROR(AddImage(in, it.key(), std::move(b), max_images));
    } else if (v.is_array()) {
      if (static_cast<int>(v.size()) > max_images) return TooManyImages(max_images);
      for (const json& e : v) {
        if (!e.is_string()) {
          return InvalidArgument("invalid_base64", "'" + it.key() + "' must hold base64 strings");
        }
        FACEPAY_ASSIGN_OR_RETURN(std::string b, DecodeBase64(e.get_ref<const std::string&>()));
        FACEPAY_RETURN_IF_ERROR(AddImage(in, it.key(), std::move(b), max_images));
      }
    } else {
      return InvalidArgument("invalid_base64", "'" + it.key() + "' must hold base64 strings");
    }
  }
  return in;
}

StatusOr<std::string> OptionalString(const json& o, const char* key, size_t max_len) {
  if (!o.contains(key) || o[key].is_null()) return std::string();
  if (!o[key].is_string()) {
    return InvalidArgument(std::string("invalid_") + key, std::string("'") + key + "' must be a string");
  }
  const auto& s = o[key].get_ref<const std::string&>();
  if (s.size() > max_len) {
    return InvalidArgument(std::string("invalid_") + key,
                           std::string("'") + key + "' is longer than " + std::to_string(max_len));
  }
  return s;
}

StatusOr<std::string> RequiredString(const json& o, const char* key, size_t max_len) {
  FACEPAY_ASSIGN_OR_RETURN(std::string s, OptionalString(o, key, max_len));
  if (s.empty()) return InvalidArgument(std::string("missing_") + key, std::string("'") + key + "' is required");
  return s;
}

StatusOr<std::string> RequiredId(const json& o, const char* key) {
  FACEPAY_ASSIGN_OR_RETURN(std::string s, RequiredString(o, key, 128));
  static const std::regex kId("[A-Za-z0-9_.:-]{1,128}");
  if (!std::regex_match(s, kId)) {
    return InvalidArgument(std::string("invalid_") + key,
                           std::string("'") + key + "' must be 1..128 of [A-Za-z0-9_.:-]");
  }
  return s;
}

StatusOr<int64_t> RequiredAmount(const json& o, const char* key) {
  if (!o.contains(key)) return InvalidArgument("missing_amount", std::string("'") + key + "' is required");
  const json& v = o[key];
  int64_t amount = 0;
  if (v.is_number_integer()) amount = v.get<int64_t>();
  if (amount <= 0 || amount > 1'000'000'000'000LL) {
    return InvalidArgument("invalid_amount", std::string("'") + key +
                                                 "' must be a positive integer in minor units");
  }
  return amount;
}

StatusOr<int> QueryLimit(const httplib::Request& req) {
  if (!req.has_param("limit")) return 100;
  const std::string s = req.get_param_value("limit");
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 1 || v > 1000) {
    return InvalidArgument("invalid_limit", "limit must be 1..1000");
  }
  return v;
}

}  // namespace facepay::service
