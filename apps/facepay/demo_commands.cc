// facepay demo seed (enroll a real data set folder with accounts and balances, plus optional
// synthetic templates) and facepay bench gate (replay probe images against a running server).
#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <thread>

#include <httplib.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "biometrics_cli.h"
#include "cli_common.h"
#include "commands.h"
#include "facepay/biometrics/enrollment.h"
#include "facepay/common/progress.h"
#include "facepay/eval/datasets.h"
#include "facepay/payments/clock.h"
#include "facepay/node/node.h"
#include "facepay/payments/ledger.h"
#include "facepay/storage/ledger_stores.h"
#include "facepay/storage/service_stores.h"
#include "facepay/vision/image_decode.h"

namespace facepay::cli {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

struct SeedArgs {
  std::string images;
  std::string data = "data";
  std::string store;
  std::string models;
  int per_identity = 1;
  int64_t balance_minor = 10'000;
  int limit = 0;
  int64_t synthetic = 0;
  int threads = 0;
  std::string probes_out;
};

int Seed(const SeedArgs& a) {
  std::error_code ec;
  fs::create_directories(a.data, ec);
  std::vector<fs::path> folders;
  for (const auto& e : fs::directory_iterator(a.images, ec)) {
    if (e.is_directory()) folders.push_back(e.path());
  }
  if (ec || folders.empty()) {
    return Fail(InvalidArgument("no_identities", a.images + " has no identity folders"));
  }
  std::sort(folders.begin(), folders.end());
  if (a.limit > 0 && static_cast<int>(folders.size()) > a.limit) folders.resize(a.limit);

  const int threads = ResolveThreads(a.threads);
  ConfigureThreads(threads);
  node::NodeConfig nc;
  nc.data_dir = a.data;
  nc.store = a.store;
  nc.models = a.models;
  nc.pipelines = threads;
  nc.make_first_admin_key = false;  // `facepay serve`'s first start shows it
  auto node = node::Node::Open(std::move(nc));
  if (!node.ok()) return Fail(node.status());
  biometrics::Gallery& gallery = (*node)->gallery();
  payments::Ledger& ledger = (*node)->ledger();
  service::ServiceStore& svc = (*node)->store();
  const vision::FacePipeline& pipeline = (*node)->pipeline();
  payments::SystemClock clock;
  payments::Account desk;
  desk.id = "cash:topup-desk";
  desk.kind = payments::AccountKind::kCash;
  desk.currency = "EUR";
  (void)ledger.CreateAccount(desk);  // exists already on a second run

  std::atomic<int> enrolled{0}, duplicates{0}, rejected{0}, existing{0}, failed{0};
  std::mutex mu;  // guards probes, reject_reasons, quality_checks
  std::vector<std::string> probes;
  std::map<std::string, int> reject_reasons, quality_checks;
  {
    Progress bar("seed", folders.size());
    ParallelFor(folders.size(), threads, [&](size_t i) {
      const std::string id = folders[i].filename().string();
      auto imgs = eval::ListImages(folders[i].string());
      bar.Tick();
      if (!imgs.ok() || imgs->empty()) return;
      std::sort(imgs->begin(), imgs->end());
      const size_t n = std::min<size_t>(imgs->size(), static_cast<size_t>(a.per_identity));
      std::vector<std::string> enroll(imgs->begin(), imgs->begin() + static_cast<long>(n));
      {
        std::lock_guard<std::mutex> lock(mu);
        for (size_t k = n; k < imgs->size(); ++k) probes.push_back((*imgs)[k]);
      }
      if (gallery.ContainsSubject(id)) {
        ++existing;
        return;
      }
      biometrics::Subject s;
      s.id = id;
      s.display_name = id;
      s.consent = {"demo-1", clock.NowMs(), "demo_seed"};
      s.created_at_ms = clock.NowMs();
      biometrics::EnrollOptions eo;
      eo.selection = vision::FaceSelection::kCentral;  // photos framed on one person
      // A data set of photos, not live captures: see EnrollOptions.
      eo.check_liveness = false;
      eo.single_subject = false;
      auto r = biometrics::EnrollFromImages(pipeline, gallery, s, enroll, eo,
                                            clock.NowMs());
      if (!r.ok()) {
        ++failed;
        return;
      }
      if (r->status == biometrics::EnrollStatus::kDuplicate) ++duplicates;
      if (r->status == biometrics::EnrollStatus::kRejected) {
        ++rejected;
        std::lock_guard<std::mutex> lock(mu);
        for (const auto& v : r->images) {
          const std::string why = v.reason.substr(0, v.reason.find(':'));
          ++reject_reasons[why.empty() ? "unknown" : why];
          if (v.reason.rfind("low_quality:", 0) == 0) {
            for (const auto& part : SplitCommas(v.reason.substr(12))) ++quality_checks[part];
          }
        }
      }
      if (r->status != biometrics::EnrollStatus::kEnrolled) return;
      ++enrolled;
      payments::Account acct;
      acct.id = "acct:" + id;
      acct.kind = payments::AccountKind::kStoredValue;
      acct.currency = "EUR";
      acct.floor_minor = 0;
      acct.created_at_ms = clock.NowMs();
      auto made = ledger.CreateAccount(acct);
      if (!made.ok() && made.status().reason() != "account_exists") {
        ++failed;
        return;
      }
      if (a.balance_minor > 0) {
        payments::TopUpRequest t{"seed:" + id, acct.id, desk.id, a.balance_minor, "EUR"};
        (void)ledger.TopUp(t);
      }
      (void)svc.LinkSubject(id, acct.id);
    });
  }
  int64_t synthetic_added = 0;
  if (a.synthetic > 0) {
    std::mt19937_64 rng(20261122);
    std::normal_distribution<float> nd;
    const int dim = pipeline.pack().params().embedding_dim;
    Progress bar("synthetic", static_cast<size_t>(a.synthetic));
    for (int64_t i = 0; i < a.synthetic; ++i) {
      char id[32];
      std::snprintf(id, sizeof id, "syn-%07lld", static_cast<long long>(i));
      bar.Tick();
      if (gallery.ContainsSubject(id)) continue;
      biometrics::NewTemplate t;
      t.embedding.resize(static_cast<size_t>(dim));
      double n2 = 0;
      for (float& v : t.embedding) {
        v = nd(rng);
        n2 += static_cast<double>(v) * v;
      }
      for (float& v : t.embedding) v = static_cast<float>(v / std::sqrt(n2));
      t.quality = 0.5f;
      biometrics::Subject s;
      s.id = id;
      s.consent = {"synthetic", clock.NowMs(), "demo_seed"};
      auto r = gallery.Enroll(s, {t}, clock.NowMs());
      if (r.ok()) ++synthetic_added;
    }
  }
  Status snap = (*node)->Close();
  if (!a.probes_out.empty()) {
    std::sort(probes.begin(), probes.end());
    std::ofstream out(a.probes_out);
    for (const auto& p : probes) out << p << "\n";
  }
  PrintJson({{"identities", folders.size()},
             {"enrolled", enrolled.load()},
             {"already_enrolled", existing.load()},
             {"duplicates", duplicates.load()},
             {"rejected", rejected.load()},
             {"reject_reasons", reject_reasons},
             {"low_quality_checks", quality_checks},
             {"failed", failed.load()},
             {"synthetic_added", synthetic_added},
             {"gallery_subjects", gallery.subject_count()},
             {"gallery_templates", gallery.template_count()},
             {"balance_minor_each", a.balance_minor},
             {"probes", probes.size()},
             {"snapshot", snap.ok() ? "saved" : snap.ToString()}});
  return failed.load() == 0 ? 0 : 1;
}

struct GateBenchArgs {
  std::string url = "http://127.0.0.1:8080";
  std::string key;
  std::string gate = "g1";
  std::string probes;  // file with one path per line, or a folder
  std::string mode = "frame";
  std::string frame_size = "640x480";
  std::string concurrency = "1,2,4";
  int requests = 200;
  int max_probes = 500;
  std::string models;
  bool json_out = false;
};

double Pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

std::string B64(const std::string& bytes) {
  std::string out(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  out.pop_back();  // the terminating NUL
  return out;
}

int BenchGate(const GateBenchArgs& a) {
  if (sodium_init() < 0) return Fail(Internal("sodium_init_failed", "libsodium"));
  std::vector<std::string> paths;
  if (fs::is_directory(a.probes)) {
    auto l = eval::ListImages(a.probes);
    if (!l.ok()) return Fail(l.status());
    paths = *l;
  } else {
    std::ifstream in(a.probes);
    if (!in) return Fail(NotFound("probes_not_found", "cannot read " + a.probes));
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) paths.push_back(line);
    }
  }
  if (paths.empty()) return Fail(InvalidArgument("no_probes", "no probe images"));
  std::sort(paths.begin(), paths.end());
  std::mt19937 rng(7);
  std::shuffle(paths.begin(), paths.end(), rng);
  if (static_cast<int>(paths.size()) > a.max_probes) paths.resize(a.max_probes);
  int fw = 0, fh = 0;
  if (std::sscanf(a.frame_size.c_str(), "%dx%d", &fw, &fh) != 2 || fw < 64 || fh < 64 ||
      fw > 4096 || fh > 4096) {
    return Fail(InvalidArgument("invalid_frame_size", "frame size is WxH, e.g. 640x480"));
  }
  // Request bodies, prepared once: a frame (the photo scaled into a WxH camera frame) or the
  // template an edge gate would send.
  std::vector<json> bodies;
  std::unique_ptr<vision::FacePipeline> pipeline;
  if (a.mode == "template") {
    pipeline = LoadPipeline(a.models, 2, false);
    if (!pipeline) return 1;
  } else if (a.mode != "frame") {
    return Fail(InvalidArgument("invalid_mode", "mode is frame or template"));
  }
  {
    Progress bar("prepare", paths.size());
    for (const auto& p : paths) {
      bar.Tick();
      auto img = vision::ReadImageFile(p, {});
      if (!img.ok()) continue;
      if (a.mode == "template") {
        auto r = pipeline->Analyze(*img, {});
        if (!r.ok() || r->faces.empty()) continue;
        bodies.push_back({{"template", r->faces[0].embedding},
                          {"liveness", {{"live", true}, {"score", r->faces[0].liveness.score}}}});
        continue;
      }
      cv::Mat frame(fh, fw, CV_8UC3, cv::Scalar(90, 90, 90));
      const double s = std::min(static_cast<double>(fw) / img->cols,
                                static_cast<double>(fh) / img->rows);
      cv::Mat scaled;
      cv::resize(*img, scaled, cv::Size(), s, s, cv::INTER_LINEAR);
      scaled.copyTo(frame(cv::Rect((fw - scaled.cols) / 2, (fh - scaled.rows) / 2, scaled.cols,
                                   scaled.rows)));
      std::vector<uchar> jpg;
      cv::imencode(".jpg", frame, jpg, {cv::IMWRITE_JPEG_QUALITY, 90});
      bodies.push_back({{"frames", json::array({B64(std::string(jpg.begin(), jpg.end()))})}});
    }
  }
  if (bodies.empty()) return Fail(InvalidArgument("no_probes", "no usable probe image"));
  const std::string run = std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
  json levels = json::array();
  for (const std::string& cs : SplitCommas(a.concurrency)) {
    const int c = std::max(1, std::atoi(cs.c_str()));
    std::atomic<int> next{0};
    std::mutex mu;  // guards lat, outcomes, errors
    std::vector<double> lat;
    std::map<std::string, int> outcomes, errors;
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> workers;
    for (int w = 0; w < c; ++w) {
      workers.emplace_back([&] {
        httplib::Client cli(a.url);
        cli.set_read_timeout(30, 0);
        cli.set_tcp_nodelay(true);
        cli.set_bearer_token_auth(a.key.c_str());
        for (int i = next++; i < a.requests; i = next++) {
          json body = bodies[static_cast<size_t>(i) % bodies.size()];
          body["event_id"] = "bench-" + run + "-" + cs + "-" + std::to_string(i);
          const std::string text = body.dump();
          const auto s0 = std::chrono::steady_clock::now();
          auto res = cli.Post(("/v1/gates/" + a.gate + "/passages").c_str(), text,
                              "application/json");
          const double ms =
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s0)
                  .count();
          std::lock_guard<std::mutex> lock(mu);
          lat.push_back(ms);
          if (!res) {
            ++errors["transport:" + httplib::to_string(res.error())];
          } else if (res->status != 200) {
            ++errors["http_" + std::to_string(res->status)];
          } else {
            json j = json::parse(res->body, nullptr, false);
            std::string o = j.is_discarded() ? "unparsable"
                                             : j["decision"].value("outcome", "?");
            if (o == "reject") o += ":" + j["decision"].value("reason", "");
            ++outcomes[o];
          }
        }
      });
    }
    for (auto& t : workers) t.join();
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    int nerr = 0;
    for (const auto& [k, v] : errors) nerr += v;
    json lvl = {{"concurrency", c},
                {"requests", lat.size()},
                {"seconds", secs},
                {"requests_per_s", static_cast<double>(lat.size()) / secs},
                {"p50_ms", Pct(lat, 0.50)},
                {"p99_ms", Pct(lat, 0.99)},
                {"max_ms", Pct(lat, 1.0)},
                {"errors", nerr},
                {"error_kinds", errors},
                {"outcomes", outcomes}};
    std::cerr << "facepay: bench gate " << a.mode << " c=" << c << ": " << lvl["requests_per_s"]
              << " req/s, p50 " << lvl["p50_ms"] << " ms, p99 " << lvl["p99_ms"] << " ms, "
              << nerr << " errors\n";
    levels.push_back(lvl);
  }
  PrintJson({{"mode", a.mode},
             {"frame_size", a.mode == "frame" ? a.frame_size : ""},
             {"gate", a.gate},
             {"probes", bodies.size()},
             {"levels", levels}},
            !a.json_out);
  return 0;
}

}  // namespace

void AddDemoCommands(CLI::App& app, int& exit_code) {
  auto* demo = app.add_subcommand("demo", "Demo data");
  demo->require_subcommand(1);
  auto sa = std::make_shared<SeedArgs>();
  auto* seed = demo->add_subcommand(
      "seed", "Enroll a data set folder (one identity per folder) with accounts and balances");
  seed->add_option("--images", sa->images, "Folder of identity folders (e.g. LFW images)")
      ->required();
  seed->add_option("--data", sa->data, "Data folder (default data)");
  seed->add_option("--store", sa->store, "SQLite file or postgres:// URL (default <data>/facepay.db)");
  seed->add_option("--models", sa->models, "Model pack folder");
  seed->add_option("--per-identity", sa->per_identity, "Images enrolled per identity (default 1)");
  seed->add_option("--balance", sa->balance_minor, "Opening balance, minor units (default 10000)");
  seed->add_option("--limit", sa->limit, "At most this many identities (0 = all)");
  seed->add_option("--synthetic", sa->synthetic,
                   "Also add N synthetic random templates (load tests; no accounts)");
  seed->add_option("--threads", sa->threads, "Analysis threads (default: all cores)");
  seed->add_option("--probes-out", sa->probes_out,
                   "Write the images not enrolled (probes of enrolled people) to this file");
  seed->callback([sa, &exit_code] { exit_code = Seed(*sa); });

  CLI::App* bench = app.get_subcommand("bench");
  auto ga = std::make_shared<GateBenchArgs>();
  auto* gate = bench->add_subcommand("gate", "Replay probe images against a running server's gate");
  gate->add_option("--url", ga->url, "Server URL (default http://127.0.0.1:8080)");
  gate->add_option("--key", ga->key, "A gate (or admin) API key")->required();
  gate->add_option("--gate", ga->gate, "Gate id (default g1)");
  gate->add_option("--probes", ga->probes, "Folder of images or a file listing them")->required();
  gate->add_option("--mode", ga->mode, "frame (camera frame) | template (edge template)");
  gate->add_option("--frame-size", ga->frame_size, "Frame size for frame mode (default 640x480)");
  gate->add_option("--concurrency", ga->concurrency, "Concurrent clients per level (default 1,2,4)");
  gate->add_option("--requests", ga->requests, "Requests per level (default 200)");
  gate->add_option("--max-probes", ga->max_probes, "Distinct probe images used (default 500)");
  gate->add_option("--models", ga->models, "Model pack (template mode)");
  gate->add_flag("--json", ga->json_out, "Compact JSON");
  gate->callback([ga, &exit_code] { exit_code = BenchGate(*ga); });
}

}  // namespace facepay::cli
