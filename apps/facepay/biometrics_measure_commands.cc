// `facepay eval identify` and `facepay bench search`.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include "biometrics_cli.h"
#include "cli_common.h"
#include "facepay/bench/search_bench.h"
#include "facepay/common/env.h"
#include "facepay/eval/identify_eval.h"

namespace facepay::cli {
namespace {

CLI::App* GetOrAdd(CLI::App& app, const std::string& name, const std::string& help) {
  auto found = app.get_subcommands([&](CLI::App* s) { return s->get_name() == name; });
  return found.empty() ? app.add_subcommand(name, help) : found.front();
}

struct EvalIdentifyArgs {
  std::string images, gallery, probes, models, same_person;
  bool leave_one_out = false;
  int threads = 0;
  eval::IdentifyEvalOptions opt;
};

int EvalIdentify(EvalIdentifyArgs& a) {
  if (a.threads <= 0) a.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  StatusOr<eval::IdentifyProtocol> protocol = Internal("unset", "");
  if (!a.gallery.empty() || !a.probes.empty()) {
    if (a.gallery.empty() || a.probes.empty() || !a.images.empty()) {
      return Fail(InvalidArgument("invalid_protocol",
                                  "give --gallery and --probes together, or --images"));
    }
    auto gallery = eval::ReadSamples(a.gallery);
    if (!gallery.ok()) return Fail(gallery.status());
    auto probes = eval::ReadSamples(a.probes);
    if (!probes.ok()) return Fail(probes.status());
    protocol = eval::BuildIdentifyProtocol(*gallery, *probes);
  } else {
    if (a.images.empty()) a.images = DataDir() + "/lfw-view1/images";
    protocol = eval::BuildLfwIdentifyProtocol(a.images);
  }
  if (!protocol.ok()) return Fail(protocol.status());
  if (a.leave_one_out) eval::AddLeaveOneOutProbes(*protocol);
  if (!a.same_person.empty()) {
    auto sp = eval::ReadSamePerson(a.same_person);
    if (!sp.ok()) return Fail(sp.status());
    a.opt.same_person = std::move(*sp);
  }
  std::vector<std::string> paths = protocol->gallery_paths;
  for (const auto& p : protocol->probes) paths.push_back(p.path);
  std::sort(paths.begin(), paths.end());  // leave-one-out probes repeat gallery/mated images
  paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
  ConfigureThreads(a.threads);
  auto pipeline = LoadPipeline(a.models, a.threads, false);
  if (!pipeline) return 1;
  auto set = eval::EmbedAll(*pipeline, paths, a.threads, true, vision::FaceSelection::kCentral);
  auto r = eval::EvaluateIdentification(set, *protocol, a.opt);
  if (!r.ok()) return Fail(r.status());
  auto j = eval::IdentifyReportToJson(*r);
  if (a.gallery.empty()) {
    j["images"] = a.images;
  } else {
    j["gallery_samples"] = a.gallery;
    j["probe_samples"] = a.probes;
  }
  j["leave_one_out"] = a.leave_one_out;
  j["same_person_file"] = a.same_person;
  j["model_id"] = pipeline->pack().params().embedder_model_id;
  PrintJson(j);
  return 0;
}

struct BenchSearchArgs {
  biometrics::SearchBenchOptions opt;
  bool json = false;
  std::string real_images, real_cache, models;
};

// Real embeddings to mix in: read from `cache` when it exists, else embedded from `images`
// (and written to `cache` when given). Raw little-endian float32, 512 per embedding; the
// identity of each (its folder name) one per line in `cache`.ids.
Status LoadRealEmbeddings(BenchSearchArgs& a) {
  if (!a.real_cache.empty()) {
    std::ifstream in(a.real_cache, std::ios::binary);
    if (in) {
      std::vector<float> v(512);
      while (in.read(reinterpret_cast<char*>(v.data()), 512 * sizeof(float))) a.opt.real.push_back(v);
      std::ifstream ids(a.real_cache + ".ids");
      for (std::string line; std::getline(ids, line);) a.opt.real_identity.push_back(line);
      if (a.opt.real_identity.size() != a.opt.real.size()) a.opt.real_identity.clear();
      return Status::Ok();
    }
  }
  if (a.real_images.empty()) return Status::Ok();
  auto paths = eval::ListImages(a.real_images);
  if (!paths.ok()) return paths.status();
  ConfigureThreads(2);
  auto pipeline = LoadPipeline(a.models, 2, false);
  if (!pipeline) return Unavailable("pipeline_failed", "cannot load the model pack");
  auto set = eval::EmbedAll(*pipeline, *paths, 2, true, vision::FaceSelection::kCentral);
  std::ofstream out, ids;
  if (!a.real_cache.empty()) {
    out.open(a.real_cache, std::ios::binary | std::ios::trunc);
    ids.open(a.real_cache + ".ids", std::ios::trunc);
  }
  for (size_t i = 0; i < set.embeddings.size(); ++i) {
    const auto& e = set.embeddings[i];
    if (e.size() != 512) continue;
    a.opt.real.push_back(e);
    std::string identity = std::filesystem::path(set.paths[i]).parent_path().filename().string();
    if (out) out.write(reinterpret_cast<const char*>(e.data()), 512 * sizeof(float));
    if (ids) ids << identity << '\n';
    a.opt.real_identity.push_back(std::move(identity));
  }
  return Status::Ok();
}

int BenchSearch(BenchSearchArgs& a) {
  if (auto st = LoadRealEmbeddings(a); !st.ok()) return Fail(st);
  auto r = biometrics::RunSearchBench(a.opt);
  if (!r.ok()) return Fail(r.status());
  auto j = biometrics::SearchBenchToJson(*r);
  if (a.json) {
    PrintJson(j, false);
    return 0;
  }
  std::printf("%s over %lld (%s synthetic, %zu real, %zu real mated probes + %zu synthetic "
              "probes): build %.2f s (%.1f CPU s), %.0f bytes/template, peak RSS %.0f MB; exact "
              "scan p50 %.3f ms p99 %.3f ms (CPU %.3f / %.3f), real mate at rank 1 %.4f\n",
              r->factory.c_str(), static_cast<long long>(r->size), r->synthetic.c_str(),
              r->real_vectors, r->real_probes, r->synthetic_queries, r->build_s, r->build_cpu_s,
              r->bytes_per_template, r->peak_rss_mb, r->exact_p50_ms, r->exact_p99_ms,
              r->exact_cpu_p50_ms, r->exact_cpu_p99_ms, r->exact_real_mate_rank1);
  for (const auto& p : r->points) {
    std::printf("  effort %4d: p50 %.3f ms p99 %.3f ms (CPU %.3f / %.3f), %.0f q/s on %d threads, "
                "recall@1 %.4f (synthetic %.4f, real %.4f) @10 %.4f, real mate at rank 1 %.4f\n",
                p.ef_search, p.p50_ms, p.p99_ms, p.cpu_p50_ms, p.cpu_p99_ms, p.qps, r->threads,
                p.recall_at_1,
                p.recall_at_1_synthetic, p.recall_at_1_real, p.recall_at_10, p.real_mate_rank1);
    if (p.faiss) {
      std::printf("    FAISS search: p50 %.3f ms p99 %.3f ms, %.0f q/s, recall@1 %.4f (real %.4f); "
                  "facepay's p50 is %.2fx FAISS's\n",
                  p.faiss->p50_ms, p.faiss->p99_ms, p.faiss->qps, p.faiss->recall_at_1,
                  p.faiss->recall_at_1_real, p.p50_ms / std::max(p.faiss->p50_ms, 1e-9));
    }
  }
  return 0;
}

}  // namespace

void AddBiometricsMeasureCommands(CLI::App& app, int& exit_code) {
  auto* ev = GetOrAdd(app, "eval", "Measure accuracy on real data");
  auto ea = std::make_shared<EvalIdentifyArgs>();
  auto* ei = ev->add_subcommand("identify", "1:N identification on LFW (FNIR at FPIR, rank-1, "
                                            "policy outcomes with/without phone digits)");
  ei->add_option("--images", ea->images, "LFW images folder: builds the LFW protocol (default "
                                         "$DATA/lfw-view1/images)");
  ei->add_option("--gallery", ea->gallery, "Gallery samples: a folder of identity folders, or a "
                                           "list file (identity<TAB>path or path per line); each "
                                           "identity enrolled from its first sample");
  ei->add_option("--probes", ea->probes, "Probe samples (same forms); mated when the identity is "
                                         "enrolled");
  ei->add_flag("--leave-one-out", ea->leave_one_out,
               "Also search every enrolled identity's images with that identity removed "
               "(non-mated probes against a gallery one smaller)");
  ei->add_option("--threads", ea->threads, "Embedding threads (0 = all cores)");
  ei->add_option("--models", ea->models, "Model pack folder");
  ei->add_option("--same-person", ea->same_person,
                 "File of names that are one person (label noise): not counted as impostors");
  ei->add_option("--policy-fpir", ea->opt.policy_target_fpirs,
                 "Target FPIRs of the policies calibrated for the outcome split (comma-separated)")
      ->delimiter(',');
  ei->add_option("--margin", ea->opt.margin, "Policy margin");
  ei->add_option("--seed", ea->opt.seed, "Seed of the simulated phone digits");
  ei->callback([ea, &exit_code] { exit_code = EvalIdentify(*ea); });

  auto* bench = GetOrAdd(app, "bench", "Benchmarks");
  auto ba = std::make_shared<BenchSearchArgs>();
  auto* bs = bench->add_subcommand("search", "Gallery search latency, throughput, recall");
  bs->add_option("--size", ba->opt.size, "Gallery size (10..2000000)")->required();
  bs->add_option("--index", ba->opt.factory, "FAISS factory: Flat | HNSW32 | PCA128,HNSW48,RFlat | IVF4096,Flat | ..., "
                 "optionally behind Shards<N>:");
  bs->add_option("--queries", ba->opt.queries, "Queries (1..100000)");
  bs->add_option("--threads", ba->opt.threads, "Threads for the throughput run");
  bs->add_option("--seed", ba->opt.seed, "Random seed");
  bs->add_option("--ef-search", ba->opt.ef_search,
                 "Search efforts to measure, comma-separated: HNSW efSearch or IVF nprobe")
      ->delimiter(',');
  bs->add_option("--ef-construction", ba->opt.ef_construction,
                 "HNSW build effort (efConstruction; 0 = FAISS default 40)");
  bs->add_option("--synthetic", ba->opt.synthetic,
                 "Synthetic crowd: random (isotropic) | face-like (needs real embeddings)")
      ->check(CLI::IsMember({"random", "face-like"}));
  bs->add_option("--exact-queries", ba->opt.exact_queries,
                 "Queries timed for the exact-scan baseline");
  bs->add_option("--real-images", ba->real_images, "Embed these images and mix them in");
  bs->add_option("--real-cache", ba->real_cache, "File of real embeddings (read, or written "
                                                  "after embedding --real-images)");
  bs->add_option("--models", ba->models, "Model pack folder");
  bs->add_option("--index-cache", ba->opt.index_cache,
                 "Save the built index here, or load it when it was built over the same gallery "
                 "(skips a long build when measuring other efforts)");
  bs->add_flag("--compare-faiss", ba->opt.compare_faiss,
               "Also time each effort with FAISS's own HNSW search (the baseline) in this run");
  bs->add_flag("--json", ba->json, "One JSON line on stdout");
  bs->callback([ba, &exit_code] { exit_code = BenchSearch(*ba); });
}

}  // namespace facepay::cli
