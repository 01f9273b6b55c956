#include "facepay/service/terminals.h"

#include <algorithm>

#include <filesystem>
#include <regex>

#include <nlohmann/json.hpp>

#include "facepay/vision/image_decode.h"
#include "facepay/vision/sequence_liveness.h"

namespace facepay::service {
namespace {

using nlohmann::json;

Status Bad(const std::string& what) {
  return InvalidArgument("invalid_terminals_config", what);
}

bool ValidId(const std::string& s) {
  static const std::regex kId("[A-Za-z0-9_.:-]{1,64}");
  return std::regex_match(s, kId);
}

std::string Resolve(const std::string& base, const std::string& p) {
  if (p.empty() || std::filesystem::path(p).is_absolute()) return p;
  return (std::filesystem::path(base) / p).lexically_normal().string();
}

StatusOr<std::string> Str(const json& o, const char* key, bool required) {
  if (!o.contains(key)) {
    if (required) return Bad(std::string("missing field '") + key + "'");
    return std::string();
  }
  if (!o[key].is_string()) return Bad(std::string("field '") + key + "' must be a string");
  return o[key].get<std::string>();
}

template <typename T, typename F>
Status ReadList(const json& root, const char* name, std::map<std::string, T>& out, F fill) {
  if (!root.contains(name)) return Status::Ok();
  if (!root[name].is_array() || root[name].size() > 10000) {
    return Bad(std::string("'") + name + "' must be an array of at most 10000 terminals");
  }
  for (const json& o : root[name]) {
    if (!o.is_object()) return Bad(std::string("'") + name + "' entries must be objects");
    FACEPAY_ASSIGN_OR_RETURN(std::string id, Str(o, "id", true));
    if (!ValidId(id)) return Bad(std::string(name) + ": invalid id '" + id + "'");
    T t;
    t.id = id;
    FACEPAY_RETURN_IF_ERROR(fill(o, t));
    if (!out.emplace(id, std::move(t)).second) {
      return Bad(std::string(name) + ": duplicate id '" + id + "'");
    }
  }
  return Status::Ok();
}

// "shows_prompts": the terminal's screen faces the person and can draw movement prompts.
StatusOr<bool> ShowsPrompts(const json& o, const std::string& what) {
  if (!o.contains("shows_prompts")) return false;
  if (!o["shows_prompts"].is_boolean()) return Bad(what + ": shows_prompts must be true or false");
  return o["shows_prompts"].get<bool>();
}

// "camera_profile": a profile file (facepay liveness calibrate), relative to the config.
StatusOr<std::optional<vision::CameraProfile>> Camera(const json& o, const std::string& base_dir) {
  FACEPAY_ASSIGN_OR_RETURN(std::string cam, Str(o, "camera_profile", false));
  if (cam.empty()) return std::optional<vision::CameraProfile>();
  FACEPAY_ASSIGN_OR_RETURN(auto prof, vision::LoadCameraProfile(Resolve(base_dir, cam)));
  return std::optional<vision::CameraProfile>(prof);
}

}  // namespace

StatusOr<Terminals> ParseTerminals(const std::string& text, const std::string& base_dir) {
  // Depth-checked before parsing (the tree code recurses); duplicate keys are refused too.
  int depth = 0, max_depth = 0;
  for (char ch : text) {
    if (ch == '{' || ch == '[') max_depth = std::max(max_depth, ++depth);
    if (ch == '}' || ch == ']') --depth;
  }
  if (max_depth > 32) return Bad("nested deeper than 32 levels");
  json root = json::parse(text, nullptr, false);
  if (root.is_discarded() || !root.is_object()) return Bad("not a JSON object");
  Terminals t;
  FACEPAY_ASSIGN_OR_RETURN(t.currency, Str(root, "currency", true));
  FACEPAY_ASSIGN_OR_RETURN(std::string fares, Str(root, "fares", true));
  FACEPAY_ASSIGN_OR_RETURN(t.fares, payments::LoadFareConfig(Resolve(base_dir, fares)));
  if (t.fares.currency != t.currency) return Bad("fares currency differs from 'currency'");
  FACEPAY_RETURN_IF_ERROR(ReadList(root, "gates", t.gates, [&](const json& o, GateConfig& g) {
    FACEPAY_ASSIGN_OR_RETURN(g.station, Str(o, "station", true));
    FACEPAY_ASSIGN_OR_RETURN(g.gate_group, Str(o, "gate_group", false));
    if (g.gate_group.empty()) g.gate_group = g.station;
    FACEPAY_ASSIGN_OR_RETURN(std::string dir, Str(o, "direction", false));
    if (dir == "exit") {
      g.direction = payments::TapDirection::kExit;
    } else if (!dir.empty() && dir != "entry") {
      return Bad("gate " + g.id + ": direction must be entry or exit");
    }
    FACEPAY_ASSIGN_OR_RETURN(g.camera, Camera(o, base_dir));
    FACEPAY_ASSIGN_OR_RETURN(g.shows_prompts, ShowsPrompts(o, "gate " + g.id));
    if (o.contains("edge")) {
      if (!o["edge"].is_boolean()) return Bad("gate " + g.id + ": edge must be true or false");
      g.edge = o["edge"].get<bool>();
    }
    if (o.contains("edge_rate_per_s")) {
      const json& r = o["edge_rate_per_s"];
      if (!r.is_number() || !(r.get<double>() > 0 && r.get<double>() <= 1000)) {
        return Bad("gate " + g.id + ": edge_rate_per_s must be a number in (0, 1000]");
      }
      g.edge_rate_per_s = r.get<double>();
    }
    return Status::Ok();
  }));
  FACEPAY_RETURN_IF_ERROR(ReadList(root, "tills", t.tills, [&](const json& o, TillConfig& c) {
    FACEPAY_ASSIGN_OR_RETURN(c.merchant_account, Str(o, "merchant_account", true));
    FACEPAY_ASSIGN_OR_RETURN(c.camera, Camera(o, base_dir));
    FACEPAY_ASSIGN_OR_RETURN(c.shows_prompts, ShowsPrompts(o, "till " + c.id));
    return Status::Ok();
  }));
  FACEPAY_RETURN_IF_ERROR(ReadList(root, "atms", t.atms, [&](const json& o, AtmConfig& c) {
    FACEPAY_ASSIGN_OR_RETURN(c.cash_account, Str(o, "cash_account", true));
    FACEPAY_ASSIGN_OR_RETURN(c.camera, Camera(o, base_dir));
    return Status::Ok();
  }));
  FACEPAY_RETURN_IF_ERROR(ReadList(root, "borders", t.borders, [&](const json& o, BorderConfig& c) {
    FACEPAY_ASSIGN_OR_RETURN(c.camera, Camera(o, base_dir));
    return Status::Ok();
  }));
  FACEPAY_RETURN_IF_ERROR(ReadList(root, "kiosks", t.kiosks, [&](const json& o, KioskConfig& c) {
    FACEPAY_ASSIGN_OR_RETURN(c.camera, Camera(o, base_dir));
    return Status::Ok();
  }));
  return t;
}

StatusOr<Terminals> LoadTerminals(const std::string& path) {
  FACEPAY_ASSIGN_OR_RETURN(std::string text, vision::ReadFileBounded(path, 4u << 20));
  return ParseTerminals(text, std::filesystem::path(path).parent_path().string());
}

}  // namespace facepay::service
