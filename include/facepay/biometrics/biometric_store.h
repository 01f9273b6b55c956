// BiometricStore: where subjects, sealed templates, the template change log and calibrated
// policies live. Owned by biometrics; implemented in facepay::storage (SQLite today).
//
// Every enrolment and erasure appends to the template change log, whose sequence numbers
// are strictly increasing: a gallery index built at sequence S is current iff the store's
// LatestSequence() is S (nodes follow the log with ChangesSince). The store never sees a
// plaintext embedding or a plaintext second factor. All methods are thread-safe.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "facepay/biometrics/decision_policy.h"
#include "facepay/biometrics/subject.h"
#include "facepay/common/status_or.h"

namespace facepay::biometrics {

// BiometricStore::AddTemplates without a per-subject cap (tools and tests).
inline constexpr int kNoTemplateCap = std::numeric_limits<int>::max();

// FailedPrecondition("too_many_templates") when `have` + `adding` exceeds `max_templates`.
Status CheckTemplateCap(const std::string& subject_id, int64_t have, size_t adding,
                        int max_templates);

inline constexpr int kMaxListSubjects = 1000;

enum class ChangeOp { kAdd, kRemove };

struct TemplateChange {
  int64_t sequence = 0;
  ChangeOp op = ChangeOp::kAdd;
  int64_t template_id = 0;
  std::string subject_id;
};

class BiometricStore {
 public:
  virtual ~BiometricStore() = default;

  // Inserts the subject and its templates in one transaction and logs one kAdd per template.
  // AlreadyExists("subject_exists"); AlreadyExists("template_exists") on an id collision.
  virtual Status EnrollSubject(const Subject& subject,
                               const std::vector<TemplateRecord>& templates) = 0;
  // Inserts more templates of an existing subject in one transaction and logs one kAdd per
  // template, with EnrollSubject's ordering guarantees (templates' subject_id is ignored: they
  // belong to `subject_id`). NotFound("subject_not_found"); AlreadyExists("template_exists")
  // on an id collision; FailedPrecondition("too_many_templates") when the subject would then
  // hold more than `max_templates` templates of the first record's model, counted inside the
  // transaction with the subject locked, so adders on several nodes cannot exceed it together.
  // Nothing is written on any error.
  virtual Status AddTemplates(const std::string& subject_id,
                              const std::vector<TemplateRecord>& templates,
                              int max_templates) = 0;
  // nullopt when absent.
  virtual StatusOr<std::optional<Subject>> GetSubject(const std::string& id) = 0;
  // A page of subjects in id order (byte order), strictly after `after_id` ("" = from the
  // start), at most `limit`; fewer means the last page. InvalidArgument("invalid_limit")
  // unless 1..kMaxListSubjects.
  virtual StatusOr<std::vector<Subject>> ListSubjects(const std::string& after_id, int limit) = 0;
  // Deletes the subject and its templates, logs one kRemove per template and writes an
  // erasure audit row. Returns the removed template ids. NotFound("subject_not_found").
  virtual StatusOr<std::vector<int64_t>> EraseSubject(const std::string& id, int64_t at_ms) = 0;
  // Every template (sealed), in template id order.
  virtual StatusOr<std::vector<TemplateRecord>> ListTemplates() = 0;
  // nullopt when absent (erased since).
  virtual StatusOr<std::optional<TemplateRecord>> GetTemplate(int64_t template_id) = 0;
  // The sealed source image kept with a template; nullopt when none was kept or the template
  // is gone (an image is deleted with its template, so erasure removes it).
  virtual StatusOr<std::optional<std::string>> GetTemplateImage(int64_t template_id) = 0;
  // Ids of the subject's templates, in id order, each with whether its image was kept.
  virtual StatusOr<std::vector<std::pair<int64_t, bool>>> ListSubjectTemplates(
      const std::string& subject_id) = 0;
  virtual StatusOr<int64_t> CountSubjects() = 0;
  // 0 for an empty log.
  virtual StatusOr<int64_t> LatestSequence() = 0;
  // Changes with sequence > `after`, oldest first, at most `limit`.
  virtual StatusOr<std::vector<TemplateChange>> ChangesSince(int64_t after, int limit) = 0;
  // Small key/value settings (the template key check value lives here).
  virtual StatusOr<std::optional<std::string>> GetMeta(const std::string& key) = 0;
  virtual Status PutMeta(const std::string& key, const std::string& value) = 0;
  // Calibrated policy per embedder model id (replaces an earlier one).
  virtual Status PutPolicy(const StoredPolicy& policy) = 0;
  virtual StatusOr<std::optional<StoredPolicy>> GetPolicy(const std::string& model_id) = 0;
  // "sqlite" | "postgres".
  virtual std::string Backend() const = 0;
};

}  // namespace facepay::biometrics
