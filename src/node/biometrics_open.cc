#include "facepay/node/biometrics_open.h"

#include <filesystem>
#include <iostream>

#include "facepay/common/env.h"
#include "facepay/storage/biometric_stores.h"

namespace facepay::node {

StatusOr<BioContext> OpenBiometrics(const BioConfig& c) {
  BioContext ctx;
  if (c.store.rfind("postgres", 0) != 0) {  // a SQLite path: create its folder
    auto parent = std::filesystem::path(c.store).parent_path();
    std::error_code ec;
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  }
  FACEPAY_ASSIGN_OR_RETURN(ctx.store, storage::OpenBiometricStore(c.store));
  bool created = false;
  FACEPAY_ASSIGN_OR_RETURN(auto key,
                           biometrics::TemplateKey::Resolve(c.key_file, c.create_key, &created));
  ctx.key = std::make_unique<biometrics::TemplateKey>(std::move(key));
  ctx.second_factor_pepper = ctx.key->SecondFactorPepper();
  if (created) {
    std::cerr << "facepay: created template key " << c.key_file
              << " (mode 0600). Back it up: without it no template can be decrypted.\n";
  }
  std::shared_ptr<const vision::ModelPack> loaded;
  const vision::ModelPack* pack = nullptr;
  if (c.shared_pipeline != nullptr) {
    pack = &c.shared_pipeline->pack();
    ctx.pipeline_in_use = c.shared_pipeline;
  } else {
    FACEPAY_ASSIGN_OR_RETURN(loaded,
                             vision::ModelPack::Load(c.models.empty() ? ModelsDir() : c.models));
    pack = loaded.get();
    if (c.need_pipeline) {
      vision::PipelineOptions opt;
      opt.max_instances = c.instances;
      FACEPAY_ASSIGN_OR_RETURN(ctx.pipeline, vision::FacePipeline::Create(loaded, opt));
      ctx.pipeline_in_use = ctx.pipeline.get();
    }
  }
  ctx.model_id = pack->params().embedder_model_id;
  ctx.manifest = pack->manifest();
  biometrics::GalleryOptions go;
  go.index_factory = c.index;
  go.search_effort = c.ef_search;
  go.model_id = ctx.model_id;
  go.dim = pack->params().embedding_dim;
  go.snapshot_path = c.snapshot;
  go.init_key_check = c.init_key_check;
  FACEPAY_ASSIGN_OR_RETURN(ctx.gallery, biometrics::Gallery::Open(*ctx.store, *ctx.key, go));
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

}  // namespace facepay::node
