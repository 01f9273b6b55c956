#include "facepay/biometrics/gallery.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <unordered_set>

#include <nlohmann/json.hpp>

namespace facepay::biometrics {
namespace {

double MsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Change-log entries read per ChangesSince call while catching up.
constexpr int kCatchUpPage = 256;

}  // namespace

StatusOr<std::unique_ptr<Gallery>> Gallery::Open(BiometricStore& store, const TemplateKey& key,
                                                 GalleryOptions options) {
  const auto t0 = std::chrono::steady_clock::now();
  std::unique_ptr<Gallery> g(new Gallery(store, key, std::move(options)));
  // The key check comes first: a wrong key is a start-up error, not a gallery of "tampered"
  // templates.
  FACEPAY_ASSIGN_OR_RETURN(auto check, store.GetMeta(kKeyCheckMetaKey));
  if (check) {
    FACEPAY_RETURN_IF_ERROR(VerifyKeyCheck(key, *check));
  } else {
    FACEPAY_ASSIGN_OR_RETURN(int64_t seq, store.LatestSequence());
    if (seq > 0 && !g->options_.init_key_check) {
      return FailedPrecondition("template_key_check_missing",
                                "the store has templates but no key check value");
    }
    FACEPAY_RETURN_IF_ERROR(store.PutMeta(kKeyCheckMetaKey, MakeKeyCheck(key)));
  }
  FACEPAY_ASSIGN_OR_RETURN(int64_t store_seq, store.LatestSequence());
  std::string why = "no_snapshot_path";
  if (!g->options_.snapshot_path.empty() && g->TryLoadSnapshot(store_seq, &why).ok()) {
    g->report_.from_snapshot = true;
  } else {
    g->report_.rebuild_reason = why;
    FACEPAY_RETURN_IF_ERROR(g->Rebuild());
  }
  if (!g->index_->trained()) {
    // An IVF/PCA index trains on the templates present at start-up; with none it could not
    // take a single enrolment.
    return FailedPrecondition("index_untrained",
                              "index " + g->options_.index_factory +
                                  " trains on the enrolled templates at start-up and this "
                                  "gallery has none: start with Flat or HNSW32");
  }
  g->report_.sequence = g->sequence_;
  g->report_.templates = g->index_->size();
  g->report_.load_ms = MsSince(t0);
  return g;
}

std::string Gallery::SnapshotAd() const {
  return "facepay-gallery-snapshot-v1|" + options_.model_id + "|" + options_.index_factory;
}

Status Gallery::TryLoadSnapshot(int64_t store_sequence, std::string* why) {
  const std::string& path = options_.snapshot_path;
  std::ifstream in(path + ".meta");
  if (!in) {
    *why = "snapshot_missing";
    return NotFound("snapshot_missing", path);
  }
  nlohmann::json meta = nlohmann::json::parse(in, nullptr, false);
  if (meta.is_discarded() || !meta.is_object()) {
    *why = "snapshot_corrupt";
    return DataLoss("snapshot_corrupt", path + ".meta");
  }
  // The .meta file is not sealed: a field of another type is corrupt, not an exception out of
  // Open (found by tests/fuzz/gallery_meta); a missing one is stale as before.
  const auto seq = meta.find("sequence"), model = meta.find("model_id"), fac = meta.find("factory");
  if ((seq != meta.end() && !seq->is_number_integer()) ||
      (model != meta.end() && !model->is_string()) || (fac != meta.end() && !fac->is_string())) {
    *why = "snapshot_corrupt";
    return DataLoss("snapshot_corrupt", path + ".meta");
  }
  if (seq == meta.end() || seq->get<int64_t>() != store_sequence || model == meta.end() ||
      model->get_ref<const std::string&>() != options_.model_id || fac == meta.end() ||
      fac->get_ref<const std::string&>() != options_.index_factory) {
    *why = "snapshot_stale";
    return FailedPrecondition("snapshot_stale", path);
  }
  std::string sealed;
  {
    std::ifstream f(path, std::ios::binary);
    if (!f) {
      *why = "snapshot_missing";
      return NotFound("snapshot_missing", path);
    }
    sealed.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
  auto blob = key_.Open(sealed, SnapshotAd());
  if (!blob.ok()) {
    *why = "snapshot_tampered";
    return DataLoss("snapshot_tampered", "index snapshot failed authentication");
  }
  auto index = DeserializeGalleryIndex(*blob);
  if (!index.ok()) {
    *why = std::string(index.status().reason());
    return index.status();
  }
  std::unordered_map<int64_t, std::string> subject_of;
  std::unordered_map<std::string, std::vector<int64_t>> labels_of;
  const auto& labels = meta["labels"];
  if (!labels.is_array() || labels.size() != (*index)->size()) {
    *why = "snapshot_corrupt";
    return DataLoss("snapshot_corrupt", "label map does not match the index");
  }
  for (const auto& e : labels) {
    if (!e.is_array() || e.size() != 2 || !e[0].is_number_integer() || !e[1].is_string()) {
      *why = "snapshot_corrupt";
      return DataLoss("snapshot_corrupt", "label map entries must be [label, subject id]");
    }
    int64_t label = e.at(0).get<int64_t>();
    std::string subject = e.at(1).get<std::string>();
    if (!(*index)->Contains(label)) {
      *why = "snapshot_corrupt";
      return DataLoss("snapshot_corrupt", "label map names a label the index lacks");
    }
    labels_of[subject].push_back(label);
    subject_of[label] = std::move(subject);
  }
  Install(std::move(index).value(), std::move(subject_of), std::move(labels_of), store_sequence);
  return Status::Ok();
}

Status Gallery::Rebuild() {
  // Sequence first: a change committed after this read makes the index look older than it
  // is, never newer, so the next Open rebuilds rather than missing an erasure.
  FACEPAY_ASSIGN_OR_RETURN(int64_t seq, store_.LatestSequence());
  FACEPAY_ASSIGN_OR_RETURN(auto templates, store_.ListTemplates());
  FACEPAY_ASSIGN_OR_RETURN(auto index, MakeGalleryIndex(options_.index_factory, options_.dim));
  std::unordered_map<int64_t, std::string> subject_of;
  std::unordered_map<std::string, std::vector<int64_t>> labels_of;
  // Added in batches: FAISS builds an HNSW graph from a batch with every core (one-by-one
  // adds of 100k templates took minutes on one core) and trains IVF on the first batch.
  constexpr size_t kBatch = 16384;
  std::vector<int64_t> batch_labels;
  std::vector<float> batch_data;
  auto flush = [&]() -> Status {
    if (batch_labels.empty()) return Status::Ok();
    Status s = index->AddBatch(batch_labels, batch_data);
    batch_labels.clear();
    batch_data.clear();
    return s;
  };
  for (const auto& t : templates) {
    if (t.model_id != options_.model_id) {
      ++report_.other_model;
      continue;
    }
    auto e = OpenEmbedding(key_, t.sealed, TemplateAd(t.subject_id, t.template_id, t.model_id));
    if (!e.ok()) {
      report_.tampered.push_back(t.template_id);
      continue;
    }
    if (static_cast<int>(e->size()) != options_.dim) {
      return InvalidArgument("dimension_mismatch", "a stored template has another dimension");
    }
    batch_labels.push_back(t.template_id);
    batch_data.insert(batch_data.end(), e->begin(), e->end());
    if (batch_labels.size() == kBatch) FACEPAY_RETURN_IF_ERROR(flush());
    subject_of[t.template_id] = t.subject_id;
    labels_of[t.subject_id].push_back(t.template_id);
  }
  FACEPAY_RETURN_IF_ERROR(flush());
  Install(std::move(index), std::move(subject_of), std::move(labels_of), seq);
  return Status::Ok();
}

void Gallery::Install(std::unique_ptr<GalleryIndex> index,
                      std::unordered_map<int64_t, std::string> subject_of,
                      std::unordered_map<std::string, std::vector<int64_t>> labels_of,
                      int64_t sequence) {
  if (options_.search_effort > 0) index->set_search_effort(options_.search_effort);
  std::unique_lock lock(mu_);
  index_ = std::move(index);
  subject_of_ = std::move(subject_of);
  labels_of_ = std::move(labels_of);
  sequence_ = sequence;
}

StatusOr<std::vector<TemplateRecord>> Gallery::Seal(const std::string& subject_id,
                                                    const std::vector<NewTemplate>& templates,
                                                    int64_t now_ms) const {
  if (templates.empty()) return InvalidArgument("no_templates", "nothing to enroll");
  std::vector<TemplateRecord> records;
  for (const auto& nt : templates) {
    if (static_cast<int>(nt.embedding.size()) != options_.dim) {
      return InvalidArgument("dimension_mismatch", "embedding dimension differs from gallery");
    }
    TemplateRecord r;
    r.template_id = NewTemplateId();
    r.subject_id = subject_id;
    r.model_id = options_.model_id;
    r.quality = nt.quality;
    r.created_at_ms = now_ms;
    r.sealed = SealEmbedding(key_, nt.embedding, TemplateAd(subject_id, r.template_id,
                                                            options_.model_id));
    if (!nt.image.empty()) {
      r.sealed_image = key_.Seal(nt.image, TemplateImageAd(subject_id, r.template_id));
    }
    records.push_back(std::move(r));
  }
  return records;
}

StatusOr<std::vector<int64_t>> Gallery::IndexStoredLocked(
    const std::vector<TemplateRecord>& records, const std::vector<NewTemplate>& templates) {
  std::vector<int64_t> ids;
  {
    std::lock_guard turn(turnstile_);
    std::unique_lock lock(mu_);
    for (size_t i = 0; i < records.size(); ++i) {
      FACEPAY_RETURN_IF_ERROR(index_->Add(records[i].template_id, templates[i].embedding));
      subject_of_[records[i].template_id] = records[i].subject_id;
      labels_of_[records[i].subject_id].push_back(records[i].template_id);
      ids.push_back(records[i].template_id);
    }
  }
  // Not sequence_ = LatestSequence(): another node may have committed a change below ours that
  // this index lacks. Catching up applies those and skips our own (already indexed). A failure
  // here leaves sequence_ behind, which the next CatchUp (or a stale snapshot) repairs.
  (void)CatchUpLocked();
  return ids;
}

StatusOr<std::vector<int64_t>> Gallery::Enroll(const Subject& subject,
                                               const std::vector<NewTemplate>& templates,
                                               int64_t now_ms) {
  FACEPAY_RETURN_IF_ERROR(ValidateSubjectId(subject.id));
  FACEPAY_ASSIGN_OR_RETURN(auto records, Seal(subject.id, templates, now_ms));
  std::lock_guard wlock(write_mu_);
  FACEPAY_RETURN_IF_ERROR(store_.EnrollSubject(subject, records));
  return IndexStoredLocked(records, templates);
}

StatusOr<std::vector<int64_t>> Gallery::AddTemplates(const std::string& subject_id,
                                                     const std::vector<NewTemplate>& templates,
                                                     int64_t now_ms) {
  FACEPAY_RETURN_IF_ERROR(ValidateSubjectId(subject_id));
  FACEPAY_ASSIGN_OR_RETURN(auto records, Seal(subject_id, templates, now_ms));
  std::lock_guard wlock(write_mu_);
  // Count after catching up, so templates another node added to the subject count too.
  FACEPAY_RETURN_IF_ERROR(CatchUpLocked().status());
  size_t have = 0;
  {
    std::shared_lock lock(mu_);
    if (auto it = labels_of_.find(subject_id); it != labels_of_.end()) have = it->second.size();
  }
  // Checked here for a quick answer and again by the store inside its transaction (another
  // node may be adding to the same subject right now).
  FACEPAY_RETURN_IF_ERROR(CheckTemplateCap(subject_id, static_cast<int64_t>(have),
                                           templates.size(), kTemplatesPerSubject));
  FACEPAY_RETURN_IF_ERROR(store_.AddTemplates(subject_id, records, kTemplatesPerSubject));
  return IndexStoredLocked(records, templates);
}

StatusOr<size_t> Gallery::Erase(const std::string& subject_id, int64_t now_ms) {
  FACEPAY_RETURN_IF_ERROR(ValidateSubjectId(subject_id));
  std::lock_guard wlock(write_mu_);
  FACEPAY_ASSIGN_OR_RETURN(auto removed, store_.EraseSubject(subject_id, now_ms));
  {
    std::lock_guard turn(turnstile_);
    std::unique_lock lock(mu_);
    // Remove what the index holds for the subject, whatever the store listed (a tampered
    // template was never indexed; a template enrolled by another process may not be here).
    std::unordered_set<int64_t> labels(removed.begin(), removed.end());
    if (auto it = labels_of_.find(subject_id); it != labels_of_.end()) {
      labels.insert(it->second.begin(), it->second.end());
    }
    for (int64_t label : labels) FACEPAY_RETURN_IF_ERROR(DropLabelLocked(label));
  }
  (void)CatchUpLocked();  // see IndexStoredLocked
  return removed.size();
}

StatusOr<std::string> Gallery::TemplateImage(const std::string& subject_id,
                                             int64_t template_id) const {
  const auto not_kept = [&] {
    return NotFound("image_not_kept", "subject " + subject_id + " has no image kept for template " +
                                          std::to_string(template_id));
  };
  FACEPAY_ASSIGN_OR_RETURN(auto t, store_.GetTemplate(template_id));
  if (!t || t->subject_id != subject_id) return not_kept();
  FACEPAY_ASSIGN_OR_RETURN(auto sealed, store_.GetTemplateImage(template_id));
  if (!sealed) return not_kept();
  // Bound to subject and template: an image moved to another row does not open.
  return key_.Open(*sealed, TemplateImageAd(subject_id, template_id));
}

Status Gallery::DropLabelLocked(int64_t label) {
  if (index_->Contains(label)) FACEPAY_RETURN_IF_ERROR(index_->Remove(label));
  auto it = subject_of_.find(label);
  if (it == subject_of_.end()) return Status::Ok();
  if (auto l = labels_of_.find(it->second); l != labels_of_.end()) {
    std::erase(l->second, label);
    if (l->second.empty()) labels_of_.erase(l);
  }
  subject_of_.erase(it);
  return Status::Ok();
}

StatusOr<size_t> Gallery::CatchUp() {
  std::lock_guard wlock(write_mu_);
  return CatchUpLocked();
}

StatusOr<size_t> Gallery::CatchUpLocked() {
  size_t read = 0;
  for (;;) {
    int64_t from = 0;
    {
      std::shared_lock lock(mu_);
      from = sequence_;
    }
    FACEPAY_ASSIGN_OR_RETURN(auto changes, store_.ChangesSince(from, kCatchUpPage));
    if (changes.empty()) return read;
    // Fetch and unseal outside mu_, so searches never wait for the store. write_mu_ is held:
    // nobody else changes the index meanwhile.
    std::vector<std::optional<vision::Embedding>> embedding(changes.size());
    std::vector<std::string> subject(changes.size());
    GalleryFollowStats page;
    for (size_t i = 0; i < changes.size(); ++i) {
      const TemplateChange& c = changes[i];
      if (c.op != ChangeOp::kAdd) continue;
      {
        std::shared_lock lock(mu_);
        if (index_->Contains(c.template_id)) {  // our own enrolment, or applied before
          ++page.skipped;
          continue;
        }
      }
      FACEPAY_ASSIGN_OR_RETURN(auto t, store_.GetTemplate(c.template_id));
      if (!t) {  // erased since: its kRemove follows in the log
        ++page.skipped;
        continue;
      }
      if (t->model_id != options_.model_id) {
        ++page.other_model;
        continue;
      }
      auto e = OpenEmbedding(key_, t->sealed, TemplateAd(t->subject_id, t->template_id,
                                                         t->model_id));
      if (!e.ok() || static_cast<int>(e->size()) != options_.dim) {
        ++page.tampered;
        page.tampered_ids.push_back(t->template_id);
        continue;
      }
      embedding[i] = std::move(*e);
      subject[i] = t->subject_id;
    }
    std::lock_guard turn(turnstile_);
    std::unique_lock lock(mu_);
    for (size_t i = 0; i < changes.size(); ++i) {
      const int64_t label = changes[i].template_id;
      if (changes[i].op == ChangeOp::kAdd) {
        if (!embedding[i]) continue;  // counted above
        if (index_->Contains(label)) {
          ++page.skipped;
          continue;
        }
        FACEPAY_RETURN_IF_ERROR(index_->Add(label, *embedding[i]));
        subject_of_[label] = subject[i];
        labels_of_[subject[i]].push_back(label);
        ++page.added;
      } else if (index_->Contains(label) || subject_of_.count(label) != 0) {
        FACEPAY_RETURN_IF_ERROR(DropLabelLocked(label));
        ++page.removed;
      } else {
        ++page.skipped;
      }
    }
    sequence_ = changes.back().sequence;
    follow_.changes_read += changes.size();
    follow_.added += page.added;
    follow_.removed += page.removed;
    follow_.skipped += page.skipped;
    follow_.tampered += page.tampered;
    follow_.other_model += page.other_model;
    for (int64_t id : page.tampered_ids) {
      if (follow_.tampered_ids.size() < kMaxReportedTampered) follow_.tampered_ids.push_back(id);
    }
    read += changes.size();
    if (changes.size() < static_cast<size_t>(kCatchUpPage)) return read;
  }
}

StatusOr<std::vector<Candidate>> Gallery::Search(const vision::Embedding& probe, int k) const {
  if (k < 1 || k > kMaxSearchK / kTemplatesPerSubject) {
    return InvalidArgument("invalid_k", "k must be in 1.." +
                                            std::to_string(kMaxSearchK / kTemplatesPerSubject));
  }
  { std::lock_guard turn(turnstile_); }
  std::shared_lock lock(mu_);
  FACEPAY_ASSIGN_OR_RETURN(auto hits, index_->Search(probe, k * kTemplatesPerSubject));
  std::vector<Candidate> out;
  std::unordered_set<std::string> seen;
  for (const auto& h : hits) {  // best first: the first hit of a subject is its best
    auto it = subject_of_.find(h.label);
    if (it == subject_of_.end() || !seen.insert(it->second).second) continue;
    out.push_back({it->second, h.score});
    if (static_cast<int>(out.size()) == k) break;
  }
  return out;
}

std::vector<int64_t> Gallery::TemplatesOf(const std::string& subject_id) const {
  { std::lock_guard turn(turnstile_); }
  std::shared_lock lock(mu_);
  auto it = labels_of_.find(subject_id);
  return it == labels_of_.end() ? std::vector<int64_t>{} : it->second;
}

Status Gallery::SaveSnapshot() const {
  if (options_.snapshot_path.empty()) return Status::Ok();
  std::lock_guard turn(turnstile_);
  std::unique_lock lock(mu_);
  // Tombstoned rows still hold the erased embeddings: compact first so an erased subject's
  // vectors never reach the snapshot file.
  if (index_->tombstones() > 0) FACEPAY_RETURN_IF_ERROR(index_->Compact());
  const std::string& path = options_.snapshot_path;
  auto parent = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  // Meta goes first and is removed first: a crash between the files leaves no meta (rebuild)
  // or a meta whose label map disagrees with the index (rebuild), never a wrong gallery.
  std::filesystem::remove(path + ".meta", ec);
  {
    FACEPAY_ASSIGN_OR_RETURN(std::string blob, index_->Serialize());
    const std::string sealed = key_.Seal(blob, SnapshotAd());
    const std::string itmp = path + ".tmp";
    std::ofstream out(itmp, std::ios::binary | std::ios::trunc);
    out.write(sealed.data(), static_cast<std::streamsize>(sealed.size()));
    out.close();
    if (!out) return Unavailable("snapshot_write_failed", "cannot write " + itmp);
    std::filesystem::rename(itmp, path, ec);
    if (ec) return Unavailable("snapshot_write_failed", ec.message());
  }
  nlohmann::json labels = nlohmann::json::array();
  for (const auto& [label, subject] : subject_of_) labels.push_back({label, subject});
  nlohmann::json meta = {{"sequence", sequence_},
                         {"model_id", options_.model_id},
                         {"factory", options_.index_factory},
                         {"labels", std::move(labels)}};
  const std::string tmp = path + ".meta.tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << meta.dump();
    if (!out) return Unavailable("snapshot_write_failed", "cannot write " + tmp);
  }
  std::filesystem::rename(tmp, path + ".meta", ec);
  if (ec) return Unavailable("snapshot_write_failed", ec.message());
  return Status::Ok();
}

bool Gallery::ContainsSubject(const std::string& subject_id) const {
  std::shared_lock lock(mu_);
  return labels_of_.count(subject_id) != 0;
}

int Gallery::search_effort() const {
  std::shared_lock lock(mu_);
  return index_->search_effort();
}

size_t Gallery::template_count() const {
  std::shared_lock lock(mu_);
  return index_->size();
}

int64_t Gallery::sequence() const {
  std::shared_lock lock(mu_);
  return sequence_;
}

GalleryFollowStats Gallery::follow_stats() const {
  std::shared_lock lock(mu_);
  GalleryFollowStats s = follow_;
  s.sequence = sequence_;
  return s;
}

size_t Gallery::subject_count() const {
  std::shared_lock lock(mu_);
  return labels_of_.size();
}

}  // namespace facepay::biometrics
