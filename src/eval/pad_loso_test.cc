#include "facepay/eval/pad_loso.h"

#include <gtest/gtest.h>

namespace facepay::eval {
namespace {

// A track of `n` face frames (8 fps) whose crops all have saturation mean `sat`.
CueTrack Track(const std::string& origin, const std::string& camera, const std::string& label,
               float sat, int n) {
  CueTrack t;
  t.group = origin + "/" + label;
  t.label = label;
  t.camera = camera;
  t.origin = origin;
  for (int i = 0; i < n; ++i) {
    vision::FrameCue c;
    c.has_face = true;
    c.cnn_p_live = 0.5f;
    c.t_ms = 125.0 * i;
    c.texture.valid = true;
    c.texture.lbp.assign(vision::kTextureBins, 1.f / vision::kLbpBins);
    c.texture.sat_mean = sat + (label == "live" ? 0.001f * static_cast<float>(i) : 0.f);
    t.cues.push_back(c);
  }
  return t;
}

TEST(SplitForCalibration, CropSignalMediansComeFromTheCalibrationShareOfGenuineFramesOnly) {
  // 48 genuine frames with sat_mean 0.300, 0.301, ...: the first third (16) calibrates.
  const std::vector<CueTrack> tracks = {Track("a", "ca", "live", 0.3f, 48),
                                        Track("a", "ca", "print", 5.f, 48)};
  const CalibrationSplit split = SplitForCalibration(tracks, WindowOptions{}, LosoOptions{});
  ASSERT_TRUE(split.signal_medians.count("ca"));
  EXPECT_NEAR(split.signal_medians.at("ca").at("sat_mean"), 0.308f, 1e-5);
  EXPECT_EQ(split.signal_medians.size(), 1u);
}

TEST(LeaveOneSourceOut, CentringACropSignalPerCameraRemovesTheCamerasShift) {
  // Both cameras separate live from print by 0.2 of saturation, but camera "cb" sees
  // everything 0.3 more saturated: its prints look like "ca"'s genuine faces.
  const std::vector<CueTrack> tracks = {
      Track("a", "ca", "live", 0.3f, 48), Track("a", "ca", "print", 0.1f, 48),
      Track("b", "cb", "live", 0.6f, 48), Track("b", "cb", "print", 0.4f, 48)};
  LosoOptions o;
  o.signals = {"sat_mean"};
  auto calibrated_b = [&](const LosoReport& r) {
    for (const auto& s : r.sources) {
      if (s.source != "b") continue;
      for (const auto& m : s.modes) {
        if (m.mode == "calibrated") return m;
      }
    }
    ADD_FAILURE() << "no calibrated mode for source b";
    return ModeResult{};
  };
  const ModeResult raw = calibrated_b(LeaveOneSourceOut(tracks, WindowOptions{}, o, nullptr));
  EXPECT_GT(raw.apcer.at("print").rate(), 0.5);
  o.calibrate_signals = {"sat_mean"};
  const ModeResult centred = calibrated_b(LeaveOneSourceOut(tracks, WindowOptions{}, o, nullptr));
  EXPECT_EQ(centred.apcer.at("print").hits, 0u);
  EXPECT_EQ(centred.bpcer.hits, 0u);
  EXPECT_GT(centred.bpcer.n, 0u);
}

}  // namespace
}  // namespace facepay::eval
