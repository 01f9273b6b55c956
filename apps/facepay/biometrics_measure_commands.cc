// `facepay eval identify` and `facepay bench search`.
#include <fstream>
#include <thread>

#include "biometrics_cli.h"
#include "cli_common.h"
#include "facepay/biometrics/search_bench.h"
#include "facepay/common/env.h"
#include "facepay/eval/identify_eval.h"

namespace facepay::cli {
namespace {

CLI::App* GetOrAdd(CLI::App& app, const std::string& name, const std::string& help) {
  auto found = app.get_subcommands([&](CLI::App* s) { return s->get_name() == name; });
  return found.empty() ? app.add_subcommand(name, help) : found.front();
}

struct EvalIdentifyArgs {
  std::string images, models;
  int threads = 0;
  eval::IdentifyEvalOptions opt;
};

int EvalIdentify(EvalIdentifyArgs& a) {
  if (a.threads <= 0) a.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (a.images.empty()) a.images = DataDir() + "/lfw-view1/images";
  auto protocol = eval::BuildLfwIdentifyProtocol(a.images);
  if (!protocol.ok()) return Fail(protocol.status());
  std::vector<std::string> paths = protocol->gallery_paths;
  for (const auto& p : protocol->probes) paths.push_back(p.path);
  ConfigureThreads(a.threads);
  auto pipeline = LoadPipeline(a.models, a.threads, false);
  if (!pipeline) return 1;
  auto set = eval::EmbedAll(*pipeline, paths, a.threads, true, vision::FaceSelection::kCentral);
  auto r = eval::EvaluateIdentification(set, *protocol, a.opt);
  if (!r.ok()) return Fail(r.status());
  auto j = eval::IdentifyReportToJson(*r);
  j["images"] = a.images;
  j["policy"]["model_id"] = pipeline->pack().params().embedder_model_id;
  PrintJson(j);
  return 0;
}

struct BenchSearchArgs {
  biometrics::SearchBenchOptions opt;
  bool json = false;
  std::string real_images, real_cache, models;
};

// Real embeddings to mix in: read from `cache` when it exists, else embedded from `images`
// (and written to `cache` when given). Raw little-endian float32, 512 per embedding.
Status LoadRealEmbeddings(BenchSearchArgs& a) {
  if (!a.real_cache.empty()) {
    std::ifstream in(a.real_cache, std::ios::binary);
    if (in) {
      std::vector<float> v(512);
      while (in.read(reinterpret_cast<char*>(v.data()), 512 * sizeof(float))) a.opt.real.push_back(v);
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
  std::ofstream out;
  if (!a.real_cache.empty()) out.open(a.real_cache, std::ios::binary | std::ios::trunc);
  for (const auto& e : set.embeddings) {
    if (e.size() != 512) continue;
    a.opt.real.push_back(e);
    if (out) out.write(reinterpret_cast<const char*>(e.data()), 512 * sizeof(float));
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
  } else {
    std::printf("%s over %lld: build %.2f s, single query p50 %.3f ms p99 %.3f ms, %.0f q/s on %d "
                "threads, recall@1 %.4f @10 %.4f, %.0f bytes/template (exact p50 %.3f p99 %.3f ms)\n",
                r->factory.c_str(), static_cast<long long>(r->size), r->build_s, r->p50_ms,
                r->p99_ms, r->qps, r->threads, r->recall_at_1, r->recall_at_10,
                r->bytes_per_template, r->exact_p50_ms, r->exact_p99_ms);
  }
  return 0;
}

}  // namespace

void AddBiometricsMeasureCommands(CLI::App& app, int& exit_code) {
  auto* ev = GetOrAdd(app, "eval", "Measure accuracy on real data");
  auto ea = std::make_shared<EvalIdentifyArgs>();
  auto* ei = ev->add_subcommand("identify", "1:N identification on LFW (FNIR at FPIR, rank-1, "
                                            "policy outcomes with/without phone digits)");
  ei->add_option("--images", ea->images, "LFW images folder (default $DATA/lfw-view1/images)");
  ei->add_option("--threads", ea->threads, "Embedding threads (0 = all cores)");
  ei->add_option("--models", ea->models, "Model pack folder");
  ei->add_option("--policy-fpir", ea->opt.policy_target_fpir,
                 "Target FPIR of the policy calibrated for the outcome split");
  ei->add_option("--margin", ea->opt.margin, "Policy margin");
  ei->add_option("--seed", ea->opt.seed, "Seed of the simulated phone digits");
  ei->callback([ea, &exit_code] { exit_code = EvalIdentify(*ea); });

  auto* bench = GetOrAdd(app, "bench", "Benchmarks");
  auto ba = std::make_shared<BenchSearchArgs>();
  auto* bs = bench->add_subcommand("search", "Gallery search latency, throughput, recall");
  bs->add_option("--size", ba->opt.size, "Gallery size (10..2000000)")->required();
  bs->add_option("--index", ba->opt.factory, "FAISS factory: Flat | HNSW32 | ...");
  bs->add_option("--queries", ba->opt.queries, "Queries (1..100000)");
  bs->add_option("--threads", ba->opt.threads, "Threads for the throughput run");
  bs->add_option("--seed", ba->opt.seed, "Random seed");
  bs->add_option("--ef-search", ba->opt.ef_search, "HNSW search effort (efSearch)");
  bs->add_option("--real-images", ba->real_images, "Embed these images and mix them in");
  bs->add_option("--real-cache", ba->real_cache, "File of real embeddings (read, or written "
                                                  "after embedding --real-images)");
  bs->add_option("--models", ba->models, "Model pack folder");
  bs->add_flag("--json", ba->json, "One JSON line on stdout");
  bs->callback([ba, &exit_code] { exit_code = BenchSearch(*ba); });
}

}  // namespace facepay::cli
