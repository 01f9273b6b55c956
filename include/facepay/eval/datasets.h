// Readers for evaluation data sets: LFW pair lists and presentation-attack sample lists.
#pragma once

#include <string>
#include <vector>

#include "facepay/common/status_or.h"

namespace facepay::eval {

struct LfwPair {
  std::string a, b;  // image paths
  bool same = false;
};

// LFW pair list (View 1 "N" header or View 2 "K N" header; same-person lines
// "Name n1 n2", different-person lines "Name1 n1 Name2 n2"); image n of Name is
// <images_dir>/Name/Name_%04d.jpg. Reasons: file_not_found, pairs_malformed (with line number).
StatusOr<std::vector<LfwPair>> ReadLfwPairs(const std::string& pairs_file,
                                            const std::string& images_dir);

// Image files under `path` (a file, or a folder searched recursively), sorted.
// Extensions: jpg jpeg png bmp webp (case-insensitive). Reason: file_not_found.
StatusOr<std::vector<std::string>> ListImages(const std::string& path);
bool IsVideoPath(const std::string& path);  // mp4 webm mkv avi mov y4m

struct PadSample {
  std::string path;
  std::string label;  // "live" for bona fide; otherwise the attack type ("print", "replay", ...)
  std::string camera = "default";  // which camera profile applies (liveness calibration)
  double from_ms = 0, to_ms = -1;  // videos: only this time range (to_ms < 0 = to the end)
};

// Parses a command-line sample "[LABEL][@CAMERA]:PATH[#FROM-TO]" (FROM/TO in ms of a video),
// e.g. "replay@webcam:replay.webm", "@webcam:live.webm#0-3500", or a plain PATH.
// `default_label` applies when LABEL is empty. Reason: sample_spec_invalid.
StatusOr<PadSample> ParseSampleSpec(const std::string& spec, const std::string& default_label);
// Samples from command-line specs: `live` specs are bona fide whatever their label part,
// `attack` specs default to "attack"; plus the entries of `labels_file` when not empty.
StatusOr<std::vector<PadSample>> CollectSamples(const std::vector<std::string>& live,
                                                const std::vector<std::string>& attack,
                                                const std::string& labels_file);

// A labels file: "<relative path>\t<label>" per line; paths relative to the file's folder.
StatusOr<std::vector<PadSample>> ReadPadLabels(const std::string& labels_file);

}  // namespace facepay::eval
