#include "biometrics_cli.h"


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
  node::BioConfig bc;
  bc.store = c.store;
  bc.key_file = c.key_file;
  bc.snapshot = c.snapshot;
  bc.index = c.index;
  bc.ef_search = c.ef_search;
  bc.models = c.models;
  bc.create_key = create_key;
  bc.init_key_check = create_key;
  bc.need_pipeline = need_pipeline;
  bc.instances = instances;
  return node::OpenBiometrics(bc);
}

}  // namespace facepay::cli
