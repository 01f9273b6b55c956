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
  std::string source;  // capture set-up it came from (leave-one-source-out); empty = its path
  double fps = 0;      // a folder of numbered frames: their capture rate (0 = not a video's frames)
  bool stills = false; // images are unrelated stills: each is its own one-frame sequence
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

// A sources file: the development sources of a leave-one-source-out evaluation, one sample a
// line, "SOURCE SPEC [fps=N] [stills]" (whitespace-separated; '#' starts a comment). SPEC is a
// sample spec as above whose PATH is relative to `data_dir`; "fps=N" marks a folder of
// numbered frames captured at N frames/s, "stills" a folder of unrelated images.
// Reasons: file_not_found, sources_malformed (with line number), sample_spec_invalid.
StatusOr<std::vector<PadSample>> ReadPadSources(const std::string& sources_file,
                                                const std::string& data_dir);

}  // namespace facepay::eval
