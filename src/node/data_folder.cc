// The data folder's rules (node.h): 0700 folder, 0600 files, secrets created on first use.
#include <sodium.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "facepay/node/node.h"

namespace facepay::node {

namespace fs = std::filesystem;

bool IsPostgresLocation(const std::string& loc) {
  return loc.rfind("postgres://", 0) == 0 || loc.rfind("postgresql://", 0) == 0;
}

// The data folder holds the template key, the border key, the databases and the gallery
// snapshots: anyone who can read it can decrypt templates and try second factors offline.
Status SecureDataFolder(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return FailedPrecondition("data_folder_unusable", "cannot create " + dir + ": " + ec.message());
  const auto tighten = [](const fs::path& p, fs::perms want) -> Status {
    std::error_code e;
    const fs::perms have = fs::status(p, e).permissions();
    if (e) return FailedPrecondition("data_folder_unusable", "cannot stat " + p.string());
    if ((have & (fs::perms::group_all | fs::perms::others_all)) == fs::perms::none) {
      return Status::Ok();
    }
    fs::permissions(p, want, e);
    if (e) {
      return FailedPrecondition("data_folder_permissions",
                                p.string() + " is readable by others and cannot be tightened (" +
                                    e.message() + "): chmod it yourself");
    }
    std::cerr << "facepay: warning: " << p.string() << " was readable by group/others; now "
              << (want == fs::perms::owner_all ? "0700" : "0600") << "\n";
    return Status::Ok();
  };
  FACEPAY_RETURN_IF_ERROR(tighten(dir, fs::perms::owner_all));
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_symlink()) continue;
    if (entry.is_regular_file()) {
      FACEPAY_RETURN_IF_ERROR(tighten(entry.path(), fs::perms::owner_read | fs::perms::owner_write));
    } else if (entry.is_directory()) {
      FACEPAY_RETURN_IF_ERROR(tighten(entry.path(), fs::perms::owner_all));
    }
  }
  return Status::Ok();
}

StatusOr<std::string> SecretFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (in) {
    std::string hex((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!hex.empty() && (hex.back() == '\n' || hex.back() == ' ')) hex.pop_back();
    if (hex.size() < 32) return FailedPrecondition("secret_invalid", path + " is too short");
    return hex;
  }
  if (sodium_init() < 0) return Internal("sodium_init_failed", "libsodium failed to start");
  unsigned char b[32];
  randombytes_buf(b, sizeof b);
  char hex[65];
  sodium_bin2hex(hex, sizeof hex, b, sizeof b);
  const fs::path tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << hex << "\n";
    if (!out) return Internal("secret_write_failed", "cannot write " + path);
  }
  std::error_code ec;
  fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write, ec);
  fs::rename(tmp, path, ec);
  if (ec) return Internal("secret_write_failed", "cannot write " + path + ": " + ec.message());
  return std::string(hex);
}

}  // namespace facepay::node
