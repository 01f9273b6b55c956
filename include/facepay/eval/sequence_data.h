// Building liveness windows from real data: videos, folders of frames grouped into sequences,
// and synthetic photo attacks made from single images (a photo held still, a photo moved by
// hand). Used by `facepay eval pad --window-ms`, `facepay liveness fit` and the tests.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "facepay/eval/datasets.h"
#include "facepay/vision/face_pipeline.h"
#include "facepay/vision/sequence_liveness.h"

namespace facepay::eval {

struct WindowOptions {
  double window_ms = 1000;   // window length
  double stride_ms = 250;    // videos: start of one window to the next
  int frames = 8;            // frames analysed per window (evenly spread)
  int max_windows = 400;     // per source
  double image_fps = 8;      // image sequences: assumed capture rate (frames per window)
};

struct WindowSample {
  std::string source;  // video path "#start_ms" or sequence key
  std::string group;   // the file/sequence it came from (for leave-one-group-out fitting)
  std::string label;   // "live" or attack type
  std::string origin;  // the development source (capture set-up) of its sample
  std::string camera = "default";
  vision::WindowSignals signals;
};

// Per-frame cues of one source, in time order.
struct CueTrack {
  std::string group, label, camera = "default";
  std::string origin;  // PadSample::source (empty: the sample's path)
  std::vector<vision::FrameCue> cues;
};

// Videos: frames sampled every window_ms/frames; image folders / label lists: images grouped
// by folder and file-name prefix (before the last '_'; files named by a number alone form one
// sequence per folder), sorted by the trailing number. A sample with `fps` > 0 is a video's
// frames: sampled like a video; without, every image counts and image_fps gives the time.
// A sample with `stills` makes every image its own one-frame track.
std::vector<CueTrack> TracksFromSamples(const vision::FacePipeline& pipeline,
                                        const std::vector<PadSample>& samples,
                                        const WindowOptions& o, int threads, bool progress,
                                        std::vector<std::string>* failures);

// Synthetic attacks from each image: "still_photo" (the frame repeated with sensor noise) and
// "handheld_photo" (a smooth random perspective wobble of the flat photo, with noise).
// `seed` makes them reproducible.
std::vector<CueTrack> SyntheticPhotoTracks(const vision::FacePipeline& pipeline,
                                           const std::vector<std::string>& images,
                                           const WindowOptions& o, unsigned seed, int threads,
                                           bool progress);

// Cuts tracks into windows and computes their signals; each track's CNN logits are shifted by
// its camera's offset (cameras not in the map: `uncalibrated_offset`, which a decision should
// take from SequenceModel::uncalibrated_cnn_logit_offset; 0 gives the raw CNN logits).
std::vector<WindowSample> WindowsFromTracks(const std::vector<CueTrack>& tracks,
                                            const WindowOptions& o,
                                            const std::map<std::string, float>& camera_offsets,
                                            float uncalibrated_offset);

}  // namespace facepay::eval
