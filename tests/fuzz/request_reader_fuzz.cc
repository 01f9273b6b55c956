// Fuzz target: the service's request reader (src/service/request_io.h) on untrusted bodies.
// The first byte picks the shape of the request; the rest is its content:
//   0: application/json body (base64 images in "frames"/"images"/"document_photo"/"frame")
//   1: multipart/form-data parts, as httplib hands them over after its own parsing:
//      the rest split on 0x01 into name, content, name, content, ... (0x02 in a name
//      separates name from filename and part content type)
//   2: the first line is the Content-Type header, the remainder the body
//   3: the first line is the ?limit= query parameter, the remainder an application/json body
// Contract checked: errors carry a reason; what is accepted respects the documented bounds.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_util.h"
#include "request_io.h"

namespace {

using facepay::service::Input;

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

void CheckAccepted(const Input& in) {
  using namespace facepay::service;
  if (!in.fields.is_object()) __builtin_trap();
  size_t images = 0;
  for (const auto& [field, list] : in.images) {
    if (field != "frames" && field != "images" && field != "document_photo" && field != "frame") {
      __builtin_trap();
    }
    for (const std::string& b : list) {
      if (b.empty() || b.size() > kMaxImageBytes) __builtin_trap();
    }
    images += list.size();
  }
  // request_io.h: kMaxFrames is the number of images per request.
  if (images > static_cast<size_t>(kMaxFrames)) __builtin_trap();
  // The typed accessors the routes call on the fields.
  if (auto id = RequiredId(in.fields, "event_id"); id.ok()) {
    if (id->empty() || id->size() > 128) __builtin_trap();
  } else if (id.status().reason().empty()) {
    __builtin_trap();
  }
  if (auto a = RequiredAmount(in.fields, "amount_minor"); a.ok()) {
    if (*a <= 0) __builtin_trap();
  } else if (a.status().reason().empty()) {
    __builtin_trap();
  }
  if (auto s = OptionalString(in.fields, "note", 64); s.ok() && s->size() > 64) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int mode = data[0] % 4;
  std::string_view rest = facepay::fuzz::AsText(data + 1, size - 1);
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/pay";
  switch (mode) {
    case 0:
      req.headers.emplace("Content-Type", "application/json");
      req.body = std::string(rest);
      break;
    case 1: {
      req.headers.emplace("Content-Type", "multipart/form-data; boundary=fuzz");
      const auto pieces = Split(rest, '\x01');
      for (size_t i = 0; i + 1 < pieces.size(); i += 2) {
        const auto meta = Split(pieces[i], '\x02');
        httplib::MultipartFormData part;
        part.name = std::string(meta[0]);
        part.content = std::string(pieces[i + 1]);
        part.filename = meta.size() > 1 ? std::string(meta[1]) : "";
        part.content_type = meta.size() > 2 ? std::string(meta[2]) : "application/octet-stream";
        req.files.emplace(part.name, std::move(part));
      }
      break;
    }
    case 2: {
      const size_t nl = rest.find('\n');
      req.headers.emplace("Content-Type", std::string(rest.substr(0, nl)));
      if (nl != std::string_view::npos) req.body = std::string(rest.substr(nl + 1));
      break;
    }
    default: {
      const size_t nl = rest.find('\n');
      req.params.emplace("limit", std::string(rest.substr(0, nl)));
      req.headers.emplace("Content-Type", "application/json; charset=utf-8");
      req.body = std::string(nl == std::string_view::npos ? rest : rest.substr(nl + 1));
      auto limit = facepay::service::QueryLimit(req);
      if (limit.ok() && (*limit < 1 || *limit > 1000)) __builtin_trap();
      break;
    }
  }
  auto in = facepay::service::ReadInput(req);
  if (in.ok()) {
    CheckAccepted(*in);
  } else if (in.status().reason().empty()) {
    __builtin_trap();
  }
  return 0;
}
