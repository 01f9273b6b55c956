// Gallery: the searchable, in-memory view of the enrolled templates (FAISS index + label map)
// kept consistent with the BiometricStore.
//
// Open() loads the index snapshot when it is current (its recorded change-log sequence, model
// id and factory equal the store's) and otherwise rebuilds from the store, decrypting every
// template; a template that fails authentication is reported (load_report().tampered) and
// never indexed. Enroll/Erase write the store first, then the index, so a crash between the
// two leaves a snapshot that is stale by sequence and gets rebuilt at the next Open.
//
// Several galleries (nodes) may share one store: CatchUp applies the change log after
// sequence() (other nodes' enrolments and erasures; GalleryFollower runs it periodically).
// Enroll/AddTemplates/Erase index their own change at once and then catch up through the log,
// which also holds their own changes (applied idempotently): sequence() only advances over
// changes that have been applied, never past another node's change that was not.
//
// Thread-safety: all methods are thread-safe. Search takes `mu_` shared; Enroll, AddTemplates,
// Erase and Open's rebuild take it exclusively while they touch the index and label map (store
// writes are serialised by `write_mu_` and happen outside `mu_`, so searches never wait for
// disk).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "facepay/biometrics/biometric_store.h"
#include "facepay/biometrics/decision_policy.h"
#include "facepay/biometrics/gallery_index.h"
#include "facepay/biometrics/template_crypto.h"
#include "facepay/vision/face_types.h"

namespace facepay::biometrics {

inline constexpr const char* kKeyCheckMetaKey = "template_key_check";

struct GalleryOptions {
  std::string index_factory = "Flat";
  // Search effort (HNSW efSearch / IVF nprobe; ignored by Flat); 0 = the index's default (64).
  // A million-template graph needs ~384 (docs/benchmarks.md).
  int search_effort = 0;
  std::string model_id;       // embedder model id; templates of other models are not indexed
  int dim = 512;
  std::string snapshot_path;  // "" = no snapshot (always rebuild)
  // Create the key check value in an empty store (first enroll); otherwise a store without
  // one is refused when it has templates.
  bool init_key_check = false;
};

struct GalleryLoadReport {
  bool from_snapshot = false;
  std::string rebuild_reason;  // snapshot_missing | snapshot_stale | snapshot_corrupt | ...
  int64_t sequence = 0;
  size_t templates = 0;
  std::vector<int64_t> tampered;  // template ids that failed authentication (not indexed)
  size_t other_model = 0;         // templates of another embedder model (not indexed)
  double load_ms = 0;
};

// What CatchUp has applied since Open (cumulative).
struct GalleryFollowStats {
  int64_t sequence = 0;     // change-log sequence the index reflects
  size_t changes_read = 0;  // log entries read
  size_t added = 0;         // templates indexed from the log
  size_t removed = 0;       // labels dropped from the index by the log
  size_t skipped = 0;       // already applied, or erased since (nothing to do)
  size_t tampered = 0;      // failed authentication: reported, never indexed
  size_t other_model = 0;   // another embedder model: not indexed
  std::vector<int64_t> tampered_ids;  // the first kMaxReportedTampered of them
};
inline constexpr size_t kMaxReportedTampered = 100;

// Most templates a subject may have in the index: Search asks the index for
// k * kTemplatesPerSubject hits so that k distinct subjects survive deduplication.
inline constexpr int kTemplatesPerSubject = 4;

struct NewTemplate {
  vision::Embedding embedding;
  float quality = 0;
  // The encoded source image, kept (sealed) with the template when not empty: only when the
  // operator turned image keeping on (EnrollOptions::keep_images).
  std::string image;
};

class Gallery {
 public:
  // Errors: template_key_mismatch (wrong key), store errors, invalid_index_factory,
  // index_untrained (an IVF/PCA index and too few enrolled templates to train it on).
  static StatusOr<std::unique_ptr<Gallery>> Open(BiometricStore& store, const TemplateKey& key,
                                                 GalleryOptions options);

  // Seals and stores the subject's templates, then indexes them. Returns their ids.
  // AlreadyExists("subject_exists"); InvalidArgument("dimension_mismatch", "no_templates").
  StatusOr<std::vector<int64_t>> Enroll(const Subject& subject,
                                        const std::vector<NewTemplate>& templates,
                                        int64_t now_ms);
  // Seals and stores more templates of an enrolled subject, then indexes them (as Enroll).
  // Returns their ids. NotFound("subject_not_found"); FailedPrecondition("too_many_templates")
  // when the subject would have more than kTemplatesPerSubject templates of this model
  // (counted on this index after catching up; two nodes adding to the same subject at the
  // same instant may overshoot it); InvalidArgument("dimension_mismatch", "no_templates").
  StatusOr<std::vector<int64_t>> AddTemplates(const std::string& subject_id,
                                              const std::vector<NewTemplate>& templates,
                                              int64_t now_ms);
  // Removes the subject from the store (audited) and from the index. Returns templates removed.
  // NotFound("subject_not_found").
  StatusOr<size_t> Erase(const std::string& subject_id, int64_t now_ms);
  // Applies the store's change log after sequence() to the index, in pages, idempotently:
  // kAdd fetches, unseals and indexes the template unless it is already indexed, erased since
  // (GetTemplate gives nullopt), of another model, or fails authentication (counted in
  // follow_stats().tampered, never indexed); kRemove drops the label if indexed. Returns the
  // number of log entries read. On a store error the pages already applied stay applied and
  // sequence() ends where they end: calling again resumes. Serialised with Enroll/Erase.
  StatusOr<size_t> CatchUp();
  // Best `k` subjects (each with its best template's score), best first.
  StatusOr<std::vector<Candidate>> Search(const vision::Embedding& probe, int k) const;
  // Writes the index and its metadata (sequence, model id, subject per label) atomically.
  // Compacts the index first (exclusive lock) so erased embeddings are not written out.
  // The index file is sealed with the template key (AEAD; a tampered or foreign snapshot is
  // rebuilt from the store, reason snapshot_tampered); the .meta file holds ids only.
  Status SaveSnapshot() const;

  // The source image kept with one of the subject's templates, unsealed. NotFound
  // ("image_not_kept") when the template is not the subject's or kept no image;
  // DataLoss("template_tampered") when the sealed image does not authenticate.
  StatusOr<std::string> TemplateImage(const std::string& subject_id, int64_t template_id) const;

  // Template ids (index labels) of the subject currently indexed; empty when not indexed.
  std::vector<int64_t> TemplatesOf(const std::string& subject_id) const;
  bool ContainsSubject(const std::string& subject_id) const;
  size_t template_count() const;
  int search_effort() const;  // the index's (GalleryOptions::search_effort or its default)
  size_t subject_count() const;
  // Change-log sequence the index reflects (every change <= it has been applied).
  int64_t sequence() const;
  GalleryFollowStats follow_stats() const;
  BiometricStore& store() const { return store_; }
  const GalleryLoadReport& load_report() const { return report_; }
  const GalleryOptions& options() const { return options_; }

 private:
  Gallery(BiometricStore& store, const TemplateKey& key, GalleryOptions options)
      : store_(store), key_(key), options_(std::move(options)) {}
  Status Rebuild();
  Status TryLoadSnapshot(int64_t store_sequence, std::string* why);
  // Makes `index` (with its label maps, reflecting the change log up to `sequence`) the one
  // searched, at options_.search_effort when set.
  void Install(std::unique_ptr<GalleryIndex> index,
               std::unordered_map<int64_t, std::string> subject_of,
               std::unordered_map<std::string, std::vector<int64_t>> labels_of, int64_t sequence);
  std::string SnapshotAd() const;
  // Checks the dimensions and seals each template for `subject_id` under a new id.
  StatusOr<std::vector<TemplateRecord>> Seal(const std::string& subject_id,
                                             const std::vector<NewTemplate>& templates,
                                             int64_t now_ms) const;
  // Indexes templates this node has just stored; returns their ids. Requires write_mu_.
  StatusOr<std::vector<int64_t>> IndexStoredLocked(const std::vector<TemplateRecord>& records,
                                                   const std::vector<NewTemplate>& templates);
  StatusOr<size_t> CatchUpLocked();        // requires write_mu_
  Status DropLabelLocked(int64_t label);  // requires mu_ exclusively

  BiometricStore& store_;
  const TemplateKey key_;
  const GalleryOptions options_;
  GalleryLoadReport report_;  // written only by Open

  std::mutex write_mu_;  // serialises Enroll/AddTemplates/Erase/CatchUp (store write + index
                         // update in order)
  mutable std::shared_mutex mu_;  // guards index_, subject_of_, labels_of_, sequence_, follow_
  // Writer preference: glibc's rwlock favours readers, so a steady stream of searches could
  // starve an erasure. Writers hold turnstile_ while waiting for mu_; readers pass through it
  // before taking mu_ shared, so new searches queue behind a waiting writer.
  mutable std::mutex turnstile_;
  mutable std::unique_ptr<GalleryIndex> index_;  // mutable: SaveSnapshot compacts
  std::unordered_map<int64_t, std::string> subject_of_;             // label -> subject
  std::unordered_map<std::string, std::vector<int64_t>> labels_of_;  // subject -> labels
  int64_t sequence_ = 0;  // change-log sequence the index reflects
  GalleryFollowStats follow_;  // .sequence unused (sequence_ is the truth)
};

}  // namespace facepay::biometrics
