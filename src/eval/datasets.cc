#include "facepay/eval/datasets.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace facepay::eval {
namespace fs = std::filesystem;
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool HasExt(const fs::path& p, std::initializer_list<const char*> exts) {
  const std::string e = Lower(p.extension().string());
  for (const char* x : exts) {
    if (e == x) return true;
  }
  return false;
}

std::string LfwPath(const std::string& dir, const std::string& name, int n) {
  char num[16];
  std::snprintf(num, sizeof(num), "%04d", n);
  return dir + "/" + name + "/" + name + "_" + num + ".jpg";
}

}  // namespace

StatusOr<std::vector<LfwPair>> ReadLfwPairs(const std::string& pairs_file,
                                            const std::string& images_dir) {
  std::ifstream in(pairs_file);
  if (!in) return NotFound("file_not_found", "cannot open pairs file " + pairs_file);
  std::vector<LfwPair> pairs;
  std::string line;
  int line_no = 0;
  auto bad = [&](const std::string& why) {
    return InvalidArgument("pairs_malformed",
                           pairs_file + ":" + std::to_string(line_no) + ": " + why);
  };
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::istringstream ss(line);
    std::vector<std::string> f;
    for (std::string t; ss >> t;) f.push_back(t);
    if (f.empty()) continue;
    if (line_no == 1 && f.size() <= 2 &&
        std::all_of(f.begin(), f.end(), [](const std::string& t) {
          return !t.empty() && std::all_of(t.begin(), t.end(), ::isdigit);
        })) {
      continue;  // header
    }
    try {
      if (f.size() == 3) {
        pairs.push_back({LfwPath(images_dir, f[0], std::stoi(f[1])),
                         LfwPath(images_dir, f[0], std::stoi(f[2])), true});
      } else if (f.size() == 4) {
        pairs.push_back({LfwPath(images_dir, f[0], std::stoi(f[1])),
                         LfwPath(images_dir, f[2], std::stoi(f[3])), false});
      } else {
        return bad("expected 3 or 4 fields, got " + std::to_string(f.size()));
      }
    } catch (const std::exception&) {
      return bad("image number is not an integer");
    }
  }
  if (pairs.empty()) return InvalidArgument("pairs_malformed", pairs_file + ": no pairs");
  return pairs;
}

StatusOr<std::vector<std::string>> ListImages(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return NotFound("file_not_found", "no such file or folder: " + path);
  std::vector<std::string> out;
  if (!fs::is_directory(path, ec)) {
    out.push_back(path);
    return out;
  }
  for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->is_regular_file() && HasExt(it->path(), {".jpg", ".jpeg", ".png", ".bmp", ".webp"})) {
      out.push_back(it->path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool IsVideoPath(const std::string& path) {
  return HasExt(fs::path(path), {".mp4", ".webm", ".mkv", ".avi", ".mov", ".y4m"});
}

StatusOr<PadSample> ParseSampleSpec(const std::string& spec, const std::string& default_label) {
  PadSample s;
  s.label = default_label;
  std::string path = spec;
  const auto colon = spec.find(':');
  // A prefix before ':' counts only when it holds no path separator.
  if (colon != std::string::npos && spec.find('/') > colon) {
    std::string head = spec.substr(0, colon);
    path = spec.substr(colon + 1);
    const auto at = head.find('@');
    if (at != std::string::npos) {
      s.camera = head.substr(at + 1);
      head = head.substr(0, at);
      if (s.camera.empty()) return InvalidArgument("sample_spec_invalid", "empty camera in " + spec);
    }
    if (!head.empty()) s.label = Lower(head);
  }
  const auto hash = path.rfind('#');
  if (hash != std::string::npos) {
    const std::string range = path.substr(hash + 1);
    const auto dash = range.find('-');
    try {
      if (dash == std::string::npos) throw std::invalid_argument("no dash");
      s.from_ms = std::stod(range.substr(0, dash));
      s.to_ms = std::stod(range.substr(dash + 1));
    } catch (const std::exception&) {
      return InvalidArgument("sample_spec_invalid", "time range must be #FROM-TO in ms: " + spec);
    }
    if (s.from_ms < 0 || s.to_ms <= s.from_ms) {
      return InvalidArgument("sample_spec_invalid", "empty or negative time range: " + spec);
    }
    path = path.substr(0, hash);
  }
  if (path.empty()) return InvalidArgument("sample_spec_invalid", "no path in " + spec);
  s.path = path;
  return s;
}

StatusOr<std::vector<PadSample>> CollectSamples(const std::vector<std::string>& live,
                                                const std::vector<std::string>& attack,
                                                const std::string& labels_file) {
  std::vector<PadSample> out;
  for (const auto& spec : live) {
    FACEPAY_ASSIGN_OR_RETURN(PadSample s, ParseSampleSpec(spec, "live"));
    s.label = "live";
    out.push_back(std::move(s));
  }
  for (const auto& spec : attack) {
    FACEPAY_ASSIGN_OR_RETURN(PadSample s, ParseSampleSpec(spec, "attack"));
    out.push_back(std::move(s));
  }
  if (!labels_file.empty()) {
    FACEPAY_ASSIGN_OR_RETURN(std::vector<PadSample> l, ReadPadLabels(labels_file));
    out.insert(out.end(), l.begin(), l.end());
  }
  return out;
}

StatusOr<std::vector<PadSample>> ReadPadLabels(const std::string& labels_file) {
  std::ifstream in(labels_file);
  if (!in) return NotFound("file_not_found", "cannot open labels file " + labels_file);
  const std::string base = fs::path(labels_file).parent_path().string();
  std::vector<PadSample> out;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    const auto tab = line.find('\t');
    if (tab == std::string::npos || tab == 0 || tab + 1 == line.size()) {
      return InvalidArgument("labels_malformed", labels_file + ":" + std::to_string(line_no) +
                                                     ": expected <path><TAB><label>");
    }
    // Optional third column: the camera.
    std::string label = line.substr(tab + 1), camera = "default";
    if (const auto tab2 = label.find('\t'); tab2 != std::string::npos) {
      camera = label.substr(tab2 + 1);
      label = label.substr(0, tab2);
    }
    PadSample s{base + "/" + line.substr(0, tab), Lower(label)};
    if (!camera.empty()) s.camera = camera;
    out.push_back(std::move(s));
  }
  return out;
}

StatusOr<std::vector<PadSample>> ReadPadSources(const std::string& sources_file,
                                                const std::string& data_dir) {
  std::ifstream in(sources_file);
  if (!in) return NotFound("file_not_found", "cannot open sources file " + sources_file);
  std::vector<PadSample> out;
  std::string line;
  int line_no = 0;
  auto bad = [&](const std::string& why) {
    return InvalidArgument("sources_malformed",
                           sources_file + ":" + std::to_string(line_no) + ": " + why);
  };
  while (std::getline(in, line)) {
    ++line_no;
    if (const auto hash = line.find('#'); hash == 0 || (hash != std::string::npos && line[hash - 1] == ' ')) {
      line = line.substr(0, hash);  // a comment (a '#' inside a spec is its time range)
    }
    std::istringstream ss(line);
    std::vector<std::string> f;
    for (std::string t; ss >> t;) f.push_back(t);
    if (f.empty()) continue;
    if (f.size() < 2) return bad("expected SOURCE SPEC [fps=N] [stills]");
    FACEPAY_ASSIGN_OR_RETURN(PadSample s, ParseSampleSpec(f[1], "live"));
    s.source = f[0];
    s.path = data_dir + "/" + s.path;
    for (size_t i = 2; i < f.size(); ++i) {
      if (f[i] == "stills") {
        s.stills = true;
      } else if (f[i].rfind("fps=", 0) == 0) {
        try {
          s.fps = std::stod(f[i].substr(4));
        } catch (const std::exception&) {
          s.fps = -1;
        }
        if (!(s.fps > 0 && s.fps <= 1000)) return bad("fps must be a number in (0, 1000]");
      } else {
        return bad("unknown option '" + f[i] + "'");
      }
    }
    out.push_back(std::move(s));
  }
  if (out.empty()) return InvalidArgument("sources_malformed", sources_file + ": no samples");
  return out;
}

}  // namespace facepay::eval
