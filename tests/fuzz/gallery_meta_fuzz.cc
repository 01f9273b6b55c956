// Fuzz target: the gallery snapshot's metadata file (<snapshot>.meta, JSON: sequence, model id,
// factory, label -> subject map), read by Gallery::Open (include/facepay/biometrics/gallery.h).
// The .meta file is not sealed, so any bytes there must end in a rebuild from the store
// (load_report().rebuild_reason), never in an error or a crash. Set-up once per process: a
// SQLite biometric store with two enrolled subjects and a valid sealed snapshot of them.
// Template ids are random per process, so the input's strings "@0" and "@1" (with the quotes)
// are replaced by alice's and bob's template ids before the file is written.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "facepay/biometrics/gallery.h"
#include "facepay/biometrics/template_crypto.h"
#include "facepay/storage/biometric_stores.h"
#include "fuzz_util.h"

namespace {

using namespace facepay::biometrics;

struct World {
  std::unique_ptr<BiometricStore> store;
  std::unique_ptr<TemplateKey> key;
  GalleryOptions options;
  std::string meta_path;
  std::string labels[2];
};

World& TheWorld() {
  static World* w = [] {
    auto* world = new World;
    const std::string dir = facepay::fuzz::ScratchDir("gallery_meta");
    auto store = facepay::storage::OpenSqliteBiometricStore(dir + "/bio.db");
    if (!store.ok()) __builtin_trap();
    world->store = std::move(store).value();
    world->key = std::make_unique<TemplateKey>(TemplateKey::Generate());
    world->options.model_id = "fuzz-model";
    world->options.dim = 4;
    world->options.snapshot_path = dir + "/index.snap";
    world->options.init_key_check = true;
    world->meta_path = world->options.snapshot_path + ".meta";
    auto g = Gallery::Open(*world->store, *world->key, world->options);
    if (!g.ok()) __builtin_trap();
    for (const char* id : {"alice", "bob"}) {
      Subject s;
      s.id = id;
      s.display_name = id;
      NewTemplate t;
      t.embedding = {0.5f, 0.5f, 0.5f, id[0] == 'a' ? 0.5f : -0.5f};
      t.quality = 0.9f;
      auto ids = (*g)->Enroll(s, {t}, 1000);
      if (!ids.ok() || ids->size() != 1) __builtin_trap();
      world->labels[id[0] == 'a' ? 0 : 1] = std::to_string(ids->front());
    }
    if (!(*g)->SaveSnapshot().ok()) __builtin_trap();
    return world;
  }();
  return *w;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World& w = TheWorld();
  std::string text(facepay::fuzz::AsText(data, size));
  for (int i = 0; i < 2; ++i) {
    const std::string token = "\"@" + std::to_string(i) + "\"";
    for (size_t at = text.find(token); at != std::string::npos; at = text.find(token, at)) {
      text.replace(at, token.size(), w.labels[i]);
      at += w.labels[i].size();
    }
  }
  if (!facepay::fuzz::WriteFile(w.meta_path, text)) return 0;
  auto g = Gallery::Open(*w.store, *w.key, w.options);
  if (!g.ok()) __builtin_trap();  // a bad .meta is rebuilt from the store, not an error
  if ((*g)->template_count() != 2) __builtin_trap();
  const auto& r = (*g)->load_report();
  if (!r.from_snapshot && r.rebuild_reason.empty()) __builtin_trap();
  return 0;
}
