// `facepay enroll | identify | erase | calibrate | policy show`: wiring of the biometrics
// module. JSON on stdout; errors ("facepay: <reason>: <message>") and notes on stderr.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <memory>
#include <thread>

#include "biometrics_cli.h"
#include "cli_common.h"
#include "commands.h"
#include "facepay/biometrics/calibration.h"
#include "facepay/biometrics/enrollment.h"
#include "facepay/biometrics/secret_hash.h"
#include "facepay/eval/datasets.h"
#include "facepay/eval/verify_eval.h"

namespace facepay::cli {
namespace {

namespace bio = facepay::biometrics;
using nlohmann::json;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct EnrollArgs {
  BioCommon c;
  std::string id, name, external_ref, phone, pin;
  std::string consent_version = "v1", consent_channel = "cli";
  std::vector<std::string> images;
  bio::EnrollOptions opt;
};

int Enroll(EnrollArgs& a) {
  bio::Subject s;
  s.id = a.id;
  s.display_name = a.name;
  s.external_ref = a.external_ref;
  s.consent = {a.consent_version, NowMs(), a.consent_channel};
  s.created_at_ms = s.consent.at_ms;
  if (auto st = bio::ValidateSubjectId(s.id); !st.ok()) return Fail(st);
  if (auto st = bio::ValidateDisplayName(s.display_name); !st.ok()) return Fail(st);
  if (!a.phone.empty()) {
    if (auto st = bio::ValidatePhoneLast4(a.phone); !st.ok()) return Fail(st);
  }
  if (!a.pin.empty()) {
    if (auto st = bio::ValidatePin(a.pin); !st.ok()) return Fail(st);
  }
  auto ctx = OpenBio(a.c, /*create_key=*/true, /*need_pipeline=*/true);
  if (!ctx.ok()) return Fail(ctx.status());
  if (!a.phone.empty()) {
    auto h = bio::HashSecret(a.phone, ctx->second_factor_pepper);
    if (!h.ok()) return Fail(h.status());
    s.phone_last4_hash = *h;
  }
  if (!a.pin.empty()) {
    auto h = bio::HashSecret(a.pin, ctx->second_factor_pepper);
    if (!h.ok()) return Fail(h.status());
    s.pin_hash = *h;
  }
  a.opt.duplicate_threshold = ctx->policy.thresholds.accept;
  auto r = bio::EnrollFromImages(*ctx->pipeline, *ctx->gallery, s, a.images, a.opt, NowMs());
  if (!r.ok()) return Fail(r.status());
  if (r->status == bio::EnrollStatus::kEnrolled) {
    if (auto st = ctx->gallery->SaveSnapshot(); !st.ok()) return Fail(st);
  }
  json j = bio::EnrollResultToJson(*r);
  j["subject_id"] = s.id;
  PrintJson(j);
  return r->status == bio::EnrollStatus::kEnrolled ? 0 : 1;
}

struct IdentifyArgs {
  BioCommon c;
  std::string image, phone, pin;
  int k = 5;
};

int Identify(IdentifyArgs& a) {
  if (!a.phone.empty()) {
    if (auto st = bio::ValidatePhoneLast4(a.phone); !st.ok()) return Fail(st);
  }
  if (!a.pin.empty()) {
    if (auto st = bio::ValidatePin(a.pin); !st.ok()) return Fail(st);
  }
  auto ctx = OpenBio(a.c, false, true);
  if (!ctx.ok()) return Fail(ctx.status());
  std::function<bool(const std::string&)> factor = [&](const std::string& id) {
    auto s = ctx->store->GetSubject(id);
    if (!s.ok() || !s->has_value()) return false;
    // Every factor typed must match (phone digits and/or PIN).
    const std::string& pepper = ctx->second_factor_pepper;
    return (a.phone.empty() || bio::VerifySecret((*s)->phone_last4_hash, a.phone, pepper)) &&
           (a.pin.empty() || bio::VerifySecret((*s)->pin_hash, a.pin, pepper));
  };
  const bool with_factor = !a.phone.empty() || !a.pin.empty();
  auto r = bio::IdentifyImage(*ctx->pipeline, *ctx->gallery, ctx->policy.thresholds, a.image, a.k,
                              with_factor ? &factor : nullptr);
  if (!r.ok()) return Fail(r.status());
  json j = bio::IdentifyResultToJson(*r);
  j["policy"] = {{"model_id", ctx->policy.model_id}, {"calibrated", ctx->policy.calibrated}};
  j["gallery"] = {{"subjects", ctx->gallery->subject_count()},
                  {"load_ms", ctx->gallery->load_report().load_ms},
                  {"from_snapshot", ctx->gallery->load_report().from_snapshot}};
  PrintJson(j);
  return 0;
}

int Erase(BioCommon& c, const std::string& id) {
  if (auto st = bio::ValidateSubjectId(id); !st.ok()) return Fail(st);
  auto ctx = OpenBio(c, false, false);
  if (!ctx.ok()) return Fail(ctx.status());
  auto n = ctx->gallery->Erase(id, NowMs());
  if (!n.ok()) return Fail(n.status());
  if (auto st = ctx->gallery->SaveSnapshot(); !st.ok()) return Fail(st);
  PrintJson({{"erased", id}, {"templates_removed", *n},
             {"in_index", ctx->gallery->ContainsSubject(id)}});
  return 0;
}

struct CalibrateArgs {
  BioCommon c;
  std::string images, pairs;
  double target_fpir = 1e-3;
  float margin = 0.05f;
  int threads = 0;
};

// Honest limits of a calibration: what the evidence can resolve and what it cannot.
json CalibrationLimits(int64_t impostor_units, bool pairs, int64_t gallery, double target) {
  json j;
  if (pairs) {
    j["impostor_comparisons"] = impostor_units;
    j["lowest_measurable_fmr"] = 1.0 / static_cast<double>(impostor_units);
    j["lowest_calibratable_fpir_at_this_gallery"] =
        static_cast<double>(gallery) / static_cast<double>(impostor_units);
    j["largest_gallery_for_target_fpir"] =
        static_cast<int64_t>(std::floor(target * static_cast<double>(impostor_units)));
    j["fpir_model"] = "FPIR = gallery_size x FMR (union bound over independent comparisons)";
  } else {
    j["impostor_probes"] = impostor_units;
    j["lowest_calibratable_fpir"] = 1.0 / static_cast<double>(std::max<int64_t>(1, impostor_units));
  }
  return j;
}

int Calibrate(CalibrateArgs& a) {
  if (a.threads <= 0) a.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  auto ctx = OpenBio(a.c, false, true, a.threads);
  if (!ctx.ok()) return Fail(ctx.status());
  const auto gallery_size = static_cast<int64_t>(ctx->gallery->subject_count());
  ConfigureThreads(a.threads);
  StatusOr<bio::StoredPolicy> p = Internal("unset", "");
  json limits;
  size_t skipped = 0;
  if (!a.pairs.empty()) {
    // Impostor comparisons from the mismatched pairs of an LFW pair list.
    auto pairs = eval::ReadLfwPairs(a.pairs, a.images);
    if (!pairs.ok()) return Fail(pairs.status());
    std::vector<std::string> paths;
    for (const auto& pr : *pairs) {
      if (pr.same) continue;
      paths.push_back(pr.a);
      paths.push_back(pr.b);
    }
    std::sort(paths.begin(), paths.end());
    paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
    auto set = eval::EmbedAll(*ctx->pipeline, paths, a.threads, true, vision::FaceSelection::kCentral);
    std::vector<float> scores;
    size_t same = 0;
    for (const auto& pr : *pairs) {
      if (pr.same) {
        ++same;
        continue;
      }
      const int i = set.Index(pr.a), k = set.Index(pr.b);
      if (i < 0 || k < 0 || set.embeddings[static_cast<size_t>(i)].empty() ||
          set.embeddings[static_cast<size_t>(k)].empty()) {
        ++skipped;  // no face in one of the two images
        continue;
      }
      const auto& x = set.embeddings[static_cast<size_t>(i)];
      const auto& y = set.embeddings[static_cast<size_t>(k)];
      float dot = 0;
      for (size_t d = 0; d < x.size() && d < y.size(); ++d) dot += x[d] * y[d];
      scores.push_back(dot);
    }
    limits = CalibrationLimits(static_cast<int64_t>(scores.size()), true, gallery_size,
                               a.target_fpir);
    limits["same_person_pairs_ignored"] = same;
    std::fprintf(stderr, "calibrate: %zu impostor comparisons from mismatched pairs (%zu skipped, "
                 "%zu same-person pairs ignored); gallery %lld subjects\n",
                 scores.size(), skipped, same, static_cast<long long>(gallery_size));
    p = bio::CalibrateFromPairs(scores, gallery_size, a.target_fpir, a.margin);
  } else {
    auto paths = eval::ListImages(a.images);
    if (!paths.ok()) return Fail(paths.status());
    auto set = eval::EmbedAll(*ctx->pipeline, *paths, a.threads, true, vision::FaceSelection::kCentral);
    bio::CalibrationInput in;
    in.target_fpir = a.target_fpir;
    in.margin = a.margin;
    in.gallery_size = gallery_size;
    const int k = static_cast<int>(std::min<int64_t>(250, std::max<int64_t>(1, gallery_size)));
    for (size_t i = 0; i < set.paths.size(); ++i) {
      // A folder named after an enrolled subject holds that person: not an impostor probe.
      const std::string folder = std::filesystem::path(set.paths[i]).parent_path().filename();
      if (set.embeddings[i].empty() || ctx->gallery->ContainsSubject(folder)) {
        ++skipped;
        continue;
      }
      auto c = ctx->gallery->Search(set.embeddings[i], k);
      if (!c.ok()) return Fail(c.status());
      std::vector<float> s;
      for (const auto& x : *c) s.push_back(x.score);
      in.nonmated_top_scores.push_back(std::move(s));
    }
    limits = CalibrationLimits(static_cast<int64_t>(in.nonmated_top_scores.size()), false,
                               gallery_size, a.target_fpir);
    std::fprintf(stderr, "calibrate: %zu non-mated probes searched against %lld subjects (%zu "
                 "skipped)\n", in.nonmated_top_scores.size(), static_cast<long long>(gallery_size),
                 skipped);
    p = bio::Calibrate(in);
  }
  if (!p.ok()) {
    std::fprintf(stderr, "calibrate: limits %s\n", limits.dump().c_str());
    return Fail(p.status());
  }
  p->model_id = ctx->model_id;
  p->calibrated_at_ms = NowMs();
  if (auto st = ctx->store->PutPolicy(*p); !st.ok()) return Fail(st);
  json j = bio::PolicyToJson(*p);
  j["impostor_source"] = a.pairs.empty() ? "probes" : "pairs";
  j["limits"] = limits;
  j["probes_skipped"] = skipped;
  PrintJson(j);
  return 0;
}

int PolicyShow(BioCommon& c) {
  auto ctx = OpenBio(c, false, false);
  if (!ctx.ok()) return Fail(ctx.status());
  json j = bio::PolicyToJson(ctx->policy);
  j["gallery_subjects_now"] = ctx->gallery->subject_count();
  if (ctx->policy.calibrated && ctx->policy.gallery_size > 0 &&
      static_cast<double>(ctx->gallery->subject_count()) > 1.5 * ctx->policy.gallery_size) {
    j["warning"] = "gallery grew by more than 50% since calibration: run facepay calibrate";
  }
  PrintJson(j);
  return 0;
}

}  // namespace

void AddBiometricsCommands(CLI::App& app, int& exit_code) {
  auto ea = std::make_shared<EnrollArgs>();
  auto* en = app.add_subcommand("enroll", "Enroll a subject from 1..10 face images");
  AddBioOptions(en, ea->c);
  en->add_option("--id", ea->id, "Subject id ([A-Za-z0-9_.:-], up to 64)")->required();
  en->add_option("--name", ea->name, "Display name");
  en->add_option("--external-ref", ea->external_ref, "External reference");
  en->add_option("--phone-last4", ea->phone, "Last 4 phone digits (second factor)");
  en->add_option("--pin", ea->pin, "PIN, 4..8 digits (second factor)");
  en->add_option("--consent-version", ea->consent_version, "Consent text version agreed to");
  en->add_option("--consent-channel", ea->consent_channel, "Where consent was given");
  en->add_option("--max-templates", ea->opt.max_templates, "Best-quality images kept (1..10)");
  en->add_flag("--fuse", ea->opt.fuse, "Store one fused template (mean of the kept ones)");
  en->add_flag("--allow-duplicate", ea->opt.allow_duplicate, "Enroll even if the face matches "
                                                              "another subject");
  en->add_option("images", ea->images, "Image files")->required();
  en->callback([ea, &exit_code] { exit_code = Enroll(*ea); });

  auto ia = std::make_shared<IdentifyArgs>();
  auto* id = app.add_subcommand("identify", "1:N: who is this? accept / step_up / reject");
  AddBioOptions(id, ia->c);
  id->add_option("image", ia->image, "Probe image")->required();
  id->add_option("--k", ia->k, "Candidates listed (1..50)");
  id->add_option("--phone-last4", ia->phone, "Second factor typed at the terminal");
  id->add_option("--pin", ia->pin, "PIN typed at the terminal (second factor)");
  id->callback([ia, &exit_code] { exit_code = Identify(*ia); });

  auto xa = std::make_shared<BioCommon>();
  auto xid = std::make_shared<std::string>();
  auto* er = app.add_subcommand("erase", "Erase a subject's templates everywhere (audited)");
  AddBioOptions(er, *xa);
  er->add_option("--id", *xid, "Subject id")->required();
  er->callback([xa, xid, &exit_code] { exit_code = Erase(*xa, *xid); });

  auto ca = std::make_shared<CalibrateArgs>();
  auto* cal = app.add_subcommand("calibrate", "Calibrate thresholds from impostor probes");
  AddBioOptions(cal, ca->c);
  cal->add_option("--images", ca->images, "Images of people NOT enrolled (folders named after "
                                          "enrolled ids are skipped); with --pairs, the LFW "
                                          "images folder")->required();
  cal->add_option("--pairs", ca->pairs, "LFW pair list: impostor scores from its mismatched "
                                        "pairs (FPIR = gallery size x FMR)");
  cal->add_option("--target-fpir", ca->target_fpir, "Target false-positive identification rate");
  cal->add_option("--margin", ca->margin, "Required best-vs-other-subject margin");
  cal->add_option("--threads", ca->threads, "Embedding threads (0 = all cores)");
  cal->callback([ca, &exit_code] { exit_code = Calibrate(*ca); });

  auto pa = std::make_shared<BioCommon>();
  auto* pol = app.add_subcommand("policy", "Decision policy");
  pol->require_subcommand(1);
  auto* show = pol->add_subcommand("show", "Thresholds in force for the current model");
  AddBioOptions(show, *pa);
  show->callback([pa, &exit_code] { exit_code = PolicyShow(*pa); });

  AddBiometricsMeasureCommands(app, exit_code);
}

}  // namespace facepay::cli
