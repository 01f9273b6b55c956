#include "biometrics_cli.h"

#include <filesystem>
#include <iostream>

#include "facepay/common/env.h"
#include "facepay/storage/biometric_stores.h"

namespace facepay::cli {

void AddBioOptions(CLI::App* cmd, BioCommon& c) {
  cmd->add_option("--store", c.store,
                  "SQLite file path or postgres:// URL (default data/facepay.db); nodes sharing "
                  "a PostgreSQL store follow each other's enrolments and erasures");
  cmd->add_option("--key-file", c.key_file,
                  "Template key file (default data/template.key; $FACEPAY_TEMPLATE_KEY wins)");
  cmd->add_option("--snapshot", c.snapshot, "Gallery index snapshot (default data/gallery.faiss)");
  cmd->add_option("--index", c.index,
                  "FAISS index factory: Flat | HNSW32 | PCA128,HNSW48,RFlat (large galleries); "
                  "Shards<N>: before any of them splits the gallery over N indexes");
  cmd->add_option("--ef-search", c.ef_search,
                  "Search effort of an HNSW/IVF index (efSearch / nprobe; default 64)")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--models", c.models, "Model pack folder (default $FACEPAY_MODELS_DIR)");
}

StatusOr<BioContext> OpenBio(const BioCommon& c, bool create_key, bool need_pipeline,
                             int instances) {
  BioContext ctx;
  if (c.store.rfind("postgres", 0) != 0) {  // a SQLite path: create its folder
    auto parent = std::filesystem::path(c.store).parent_path();
    std::error_code ec;
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  }
  FACEPAY_ASSIGN_OR_RETURN(ctx.store, storage::OpenBiometricStore(c.store));
  bool created = false;
  FACEPAY_ASSIGN_OR_RETURN(auto key, biometrics::TemplateKey::Resolve(c.key_file, create_key,
                                                                      &created));
  ctx.second_factor_pepper = key.SecondFactorPepper();
  if (created) {
    std::cerr << "facepay: created template key " << c.key_file
              << " (mode 0600). Back it up: without it no template can be decrypted.\n";
  }
  FACEPAY_ASSIGN_OR_RETURN(auto pack,
                           vision::ModelPack::Load(c.models.empty() ? ModelsDir() : c.models));
  ctx.model_id = pack->params().embedder_model_id;
  if (need_pipeline) {
    vision::PipelineOptions opt;
    opt.max_instances = instances;
    FACEPAY_ASSIGN_OR_RETURN(ctx.pipeline, vision::FacePipeline::Create(pack, opt));
  }
  biometrics::GalleryOptions go;
  go.index_factory = c.index;
  go.search_effort = c.ef_search;
  go.model_id = ctx.model_id;
  go.dim = pack->params().embedding_dim;
  go.snapshot_path = c.snapshot;
  go.init_key_check = create_key;
  FACEPAY_ASSIGN_OR_RETURN(ctx.gallery, biometrics::Gallery::Open(*ctx.store, key, go));
  const auto& rep = ctx.gallery->load_report();
  if (!rep.tampered.empty()) {
    std::cerr << "facepay: WARNING: " << rep.tampered.size()
              << " template(s) failed authentication (template_tampered) and are not used:";
    for (auto id : rep.tampered) std::cerr << " " << id;
    std::cerr << "\n";
  }
  FACEPAY_ASSIGN_OR_RETURN(auto stored, ctx.store->GetPolicy(ctx.model_id));
  if (stored) {
    ctx.policy = *stored;
  } else {
    ctx.policy.model_id = ctx.model_id;
  }
  return ctx;
}

}  // namespace facepay::cli
