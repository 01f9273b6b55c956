// facepay setup-check | detect | embed | verify
#include <chrono>
#include <cstdio>
#include <iostream>
#include <mutex>

#include <opencv2/imgcodecs.hpp>

#include "cli_common.h"
#include "commands.h"
#include "facepay/common/env.h"
#include "facepay/common/progress.h"
#include "facepay/eval/datasets.h"
#include "facepay/vision/draw.h"
#include "facepay/vision/face_json.h"
#include "facepay/vision/stages.h"

namespace facepay::cli {
namespace {

using nlohmann::json;
using vision::ModelRole;

int SetupCheck(const std::string& models_dir) {
  const std::string dir = models_dir.empty() ? ModelsDir() : models_dir;
  json out{{"models_dir", dir}, {"ok", false}};
  auto pack = vision::ModelPack::Load(dir);  // verifies every sha256
  if (!pack.ok()) {
    out["error"] = std::string(pack.status().reason());
    out["message"] = std::string(pack.status().message());
    PrintJson(out);
    return 1;
  }
  out["pack"] = (*pack)->pack_id();
  cv::Mat noise(480, 640, CV_8UC3);
  cv::randu(noise, 0, 255);
  const cv::Rect2f box(200, 120, 200, 240);
  json models = json::array();
  bool all_ok = true;
  for (int r = 0; r < 4; ++r) {
    const auto role = static_cast<ModelRole>(r);
    json m{{"role", vision::ModelRoleName(role)},
           {"file", (*pack)->spec(role).file},
           {"sha256_ok", true}};
    const auto t0 = std::chrono::steady_clock::now();
    Status st;
    try {
      switch (role) {
        case ModelRole::kDetector: {
          auto d = vision::FaceDetector::Create(*pack);
          st = d.status();
          if (d.ok()) d->Detect(noise);
          break;
        }
        case ModelRole::kLandmarks: {
          auto l = vision::Landmarker::Create(*pack);
          st = l.status();
          if (l.ok()) l->Predict(noise, box);
          break;
        }
        case ModelRole::kEmbedder: {
          auto e = vision::Embedder::Create(*pack);
          st = e.status();
          if (e.ok() && e->Embed(noise(cv::Rect(0, 0, 112, 112)), false).size() !=
                            static_cast<size_t>((*pack)->params().embedding_dim)) {
            st = Internal("model_output_mismatch", "embedding size differs from the manifest");
          }
          break;
        }
        case ModelRole::kLiveness: {
          auto v = vision::PassiveLiveness::Create(*pack);
          st = v.status();
          if (v.ok()) {
            const float p = v->Score(noise, box);
            if (!(p >= 0 && p <= 1)) st = Internal("model_output_mismatch", "p_live not in [0,1]");
          }
          break;
        }
      }
    } catch (const cv::Exception& e) {
      st = Internal("inference_failed", e.what());
    }
    m["loads_and_runs"] = st.ok();
    if (!st.ok()) m["error"] = st.ToString();
    m["ms"] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    all_ok = all_ok && st.ok();
    models.push_back(m);
  }
  out["models"] = models;
  out["ok"] = all_ok;
  std::error_code ec;
  out["data_dir"] = DataDir();
  out["data_dir_present"] = std::filesystem::exists(DataDir(), ec);
  PrintJson(out);
  return all_ok ? 0 : 1;
}

vision::FaceSelection Selection(const std::string& name) {
  return vision::ParseFaceSelection(name).value_or(vision::FaceSelection::kLargest);
}

int Detect(const std::string& models_dir, const std::string& path, const std::string& draw,
           bool single, const std::string& select) {
  auto pipeline = LoadPipeline(models_dir, 1, false);
  if (!pipeline) return 1;
  auto img = vision::ReadImageFile(path, pipeline->options().decode);
  if (!img.ok()) return Fail(img.status());
  vision::AnalyzeOptions opt;
  opt.all_faces = !single;
  opt.single_subject = single;
  opt.selection = Selection(select);
  opt.embed = false;
  auto a = pipeline->Analyze(*img, opt);
  if (!a.ok()) return Fail(a.status());
  json faces = json::array();
  for (const auto& f : a->faces) faces.push_back(vision::FaceToJson(f, false));
  PrintJson({{"path", path},
             {"width", a->image_width},
             {"height", a->image_height},
             {"status", vision::FaceStatusName(a->status)},
             {"faces", faces},
             {"timings", vision::TimingsToJson(a->timings)}});
  if (!draw.empty()) {
    try {
      if (!cv::imwrite(draw, vision::DrawAnalysis(*img, *a))) {
        return Fail(InvalidArgument("write_failed", "cannot write " + draw));
      }
    } catch (const cv::Exception& e) {
      return Fail(InvalidArgument("write_failed", "cannot write " + draw + ": " + e.what()));
    }
    std::fprintf(stderr, "facepay: drew %zu face(s) into %s\n", a->faces.size(), draw.c_str());
  }
  return 0;
}

int Embed(const std::string& models_dir, const std::vector<std::string>& inputs, int threads,
          bool flip, const std::string& select) {
  std::vector<std::string> files;
  for (const auto& in : inputs) {
    auto list = eval::ListImages(in);
    if (!list.ok()) return Fail(list.status());
    files.insert(files.end(), list->begin(), list->end());
  }
  ConfigureThreads(threads);
  auto pipeline = LoadPipeline(models_dir, threads, flip);
  if (!pipeline) return 1;
  vision::AnalyzeOptions opt;
  opt.selection = Selection(select);
  std::mutex out_mu;  // guards stdout
  Progress bar("embed", files.size(), stderr, files.size() > 1);
  ParallelFor(files.size(), threads, [&](size_t i) {
    const json line = vision::EmbedLine(files[i], pipeline->AnalyzeFile(files[i], opt));
    const std::string text = line.dump();
    {
      std::lock_guard<std::mutex> lock(out_mu);
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fputc('\n', stdout);
    }
    bar.Tick();
  });
  std::fflush(stdout);
  return 0;
}

int Verify(const std::string& models_dir, const std::string& a_path, const std::string& b_path,
           float threshold, bool flip, const std::string& select) {
  auto pipeline = LoadPipeline(models_dir, 2, flip);
  if (!pipeline) return 1;
  if (threshold < -1) threshold = pipeline->pack().params().verify_cosine;
  vision::AnalyzeOptions opt;
  opt.selection = Selection(select);
  StatusOr<vision::FaceAnalysis> r[2] = {pipeline->AnalyzeFile(a_path, opt),
                                         pipeline->AnalyzeFile(b_path, opt)};
  const std::string paths[2] = {a_path, b_path};
  json out{{"threshold", threshold}};
  json sides = json::array();
  bool have_both = true;
  for (int i = 0; i < 2; ++i) {
    if (!r[i].ok()) return Fail(Status(r[i].status().code(), r[i].status().reason(),
                                       paths[i] + ": " + std::string(r[i].status().message())));
    json s{{"path", paths[i]}, {"status", vision::FaceStatusName(r[i]->status)}};
    if (!r[i]->faces.empty()) {
      const auto& f = r[i]->faces[0];
      s["quality"] = vision::QualityToJson(f.quality);
      s["liveness"] = vision::LivenessToJson(f.liveness);
      s["detection_score"] = f.detection.score;
    } else {
      have_both = false;
    }
    sides.push_back(s);
  }
  out["a"] = sides[0];
  out["b"] = sides[1];
  if (have_both) {
    const float sim = vision::CosineSimilarity(r[0]->faces[0].embedding, r[1]->faces[0].embedding);
    out["similarity"] = sim;
    out["decision"] = sim >= threshold ? "match" : "no_match";
  } else {
    out["decision"] = "no_face";
  }
  PrintJson(out);
  return 0;
}

}  // namespace

void AddVisionCommands(CLI::App& app, int& exit_code) {
  static std::string models_dir;  // shared --models option, lives for the whole run
  static std::string select = "largest";
  const auto add_select = [](CLI::App* cmd) {
    cmd->add_option("--select", select, "Which face: largest (default) or central")
        ->check(CLI::IsMember({"largest", "central"}));
  };
  auto* check = app.add_subcommand("setup-check", "Check the model pack: present, sha256, loads, runs");
  check->add_option("--models", models_dir, "Model pack folder (default: $FACEPAY_MODELS_DIR or ./models)");
  check->callback([&] { exit_code = SetupCheck(models_dir); });

  static std::string detect_path, draw_path;
  static bool single = false;
  auto* detect = app.add_subcommand("detect", "Detect faces: boxes, landmarks, quality, liveness");
  detect->add_option("image", detect_path, "Image file")->required();
  detect->add_option("--draw", draw_path, "Write the image with detections drawn (PNG/JPEG)");
  detect->add_flag("--single", single, "Analyse only the largest face; report multiple_faces");
  detect->add_option("--models", models_dir, "Model pack folder");
  add_select(detect);
  detect->callback([&] { exit_code = Detect(models_dir, detect_path, draw_path, single, select); });

  static std::vector<std::string> embed_paths;
  static int embed_threads = 1;
  static bool embed_flip = false;
  auto* embed = app.add_subcommand("embed", "One JSON line per image: face, quality, liveness, embedding");
  embed->add_option("paths", embed_paths, "Image files or folders (recursive)")->required();
  embed->add_option("--threads", embed_threads, "Worker threads")->check(CLI::Range(1, 64));
  embed->add_flag("--flip", embed_flip, "Average with the mirrored face's embedding");
  embed->add_option("--models", models_dir, "Model pack folder");
  add_select(embed);
  embed->callback([&] { exit_code = Embed(models_dir, embed_paths, embed_threads, embed_flip, select); });

  static std::string va, vb;
  static float vthreshold = -2;
  static bool vflip = false;
  auto* verify = app.add_subcommand("verify", "1:1: are A and B the same person?");
  verify->add_option("a", va, "First image")->required();
  verify->add_option("b", vb, "Second image")->required();
  verify->add_option("--threshold", vthreshold, "Cosine threshold (default: the manifest's)");
  verify->add_flag("--flip", vflip, "Average with the mirrored face's embedding");
  verify->add_option("--models", models_dir, "Model pack folder");
  add_select(verify);
  verify->callback([&] { exit_code = Verify(models_dir, va, vb, vthreshold, vflip, select); });
}

}  // namespace facepay::cli
