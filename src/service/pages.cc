// The web/ screens (docs/terminals.md): static files only, no secret in any of them; each page
// pairs itself and then talks to the /v1 API like any terminal. Every answer carries a strict
// Content-Security-Policy (scripts, styles and connections from this server only: terminals
// run on a LAN with no CDN), and a page path names only the page, never a key.
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "service_impl.h"

namespace facepay::service {
namespace {

namespace fs = std::filesystem;

constexpr std::uintmax_t kMaxStaticBytes = 4u << 20;

const char* ContentTypeOf(const fs::path& p) {
  const std::string ext = p.extension().string();
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".json") return "application/json";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".ico") return "image/x-icon";
  if (ext == ".woff2") return "font/woff2";
  if (ext == ".txt") return "text/plain; charset=utf-8";
  return nullptr;  // anything else is not served
}

void SecurityHeaders(httplib::Response& res, bool page) {
  res.set_header("Content-Security-Policy",
                 "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob: mediastream:; "
                 "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
                 "form-action 'none'");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("X-Frame-Options", "DENY");
  res.set_header("Permissions-Policy", "camera=(self), microphone=(), geolocation=()");
  res.set_header("Cache-Control", page ? "no-store" : "no-cache");
}

void NotFoundPage(httplib::Response& res) {
  res.status = 404;
  res.set_content(R"({"error":{"code":"no_such_page","message":"no such page"}})", "application/json");
}

// Sends `rel` (relative to `root`, already checked to be plain path segments) when it is a
// regular file of a served type inside `root`.
void SendFile(const fs::path& root, const std::string& rel, bool page, httplib::Response& res) {
  std::error_code ec;
  const fs::path file = fs::weakly_canonical(root / rel, ec);
  const std::string r = root.string() + "/";
  if (ec || file.string().compare(0, r.size(), r) != 0 || !fs::is_regular_file(file, ec)) {
    return NotFoundPage(res);
  }
  const char* type = ContentTypeOf(file);
  const auto size = fs::file_size(file, ec);
  if (type == nullptr || ec || size > kMaxStaticBytes) return NotFoundPage(res);
  std::ifstream in(file, std::ios::binary);
  std::ostringstream body;
  body << in.rdbuf();
  if (!in.good() && !in.eof()) return NotFoundPage(res);
  SecurityHeaders(res, page);
  res.status = 200;
  res.set_content(body.str(), type);
}

}  // namespace

void Service::Impl::AddPages() {
  if (options.web_dir.empty()) return;
  std::error_code ec;
  const fs::path root = fs::canonical(options.web_dir, ec);
  if (ec) return;  // Create checked it; a folder removed since serves nothing
  server->Get("/", [](const httplib::Request&, httplib::Response& res) {
    SecurityHeaders(res, true);
    res.set_redirect("/admin");
  });
  server->Get("/admin", [root](const httplib::Request&, httplib::Response& res) {
    SendFile(root, "admin.html", true, res);
  });
  // One page per terminal kind; the id in the path is the terminal the page pairs as (for the
  // calibration page: the camera it calibrates, e.g. gate:g2).
  server->Get(R"(/kiosk/(gate|till|border|enroll|erase|calibrate)/[A-Za-z0-9_.:-]{1,64})",
              [root](const httplib::Request& req, httplib::Response& res) {
                SendFile(root, req.matches[1].str() + ".html", true, res);
              });
  // Assets: plain segments of [A-Za-z0-9_.-], none starting with a dot, at most 4 deep.
  server->Get(R"(/web/((?:[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}/){0,3}[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}))",
              [root](const httplib::Request& req, httplib::Response& res) {
                SendFile(root, req.matches[1].str(), false, res);
              });
}

}  // namespace facepay::service
