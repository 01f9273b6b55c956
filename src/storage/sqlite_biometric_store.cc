// SQLite implementation of biometrics::BiometricStore: one connection, serialised by a mutex
// (enrolments and erasures are rare next to searches, which never touch the store).
#include <mutex>

#include "facepay/storage/biometric_stores.h"
#include "sqlite_biometric_schema.h"
#include "sqlite_db.h"

namespace facepay::storage {
namespace {

using biometrics::ChangeOp;
using biometrics::StoredPolicy;
using biometrics::Subject;
using biometrics::TemplateChange;
using biometrics::TemplateRecord;

constexpr const char* kTemplateColumns =
    "SELECT id, subject_id, model_id, quality, sealed, created_at_ms FROM templates";

constexpr const char* kSubjectColumns =
    "SELECT id, display_name, external_ref, consent_version, consent_at_ms, consent_channel,"
    " phone_last4_hash, pin_hash, created_at_ms FROM subjects";

Subject ReadSubject(const SqliteStmt& st) {
  Subject s;
  s.id = st.Text(0);
  s.display_name = st.Text(1);
  s.external_ref = st.Text(2);
  s.consent = {st.Text(3), st.Int(4), st.Text(5)};
  s.phone_last4_hash = st.Text(6);
  s.pin_hash = st.Text(7);
  s.created_at_ms = st.Int(8);
  return s;
}

TemplateRecord ReadTemplate(const SqliteStmt& st) {
  TemplateRecord t;
  t.template_id = st.Int(0);
  t.subject_id = st.Text(1);
  t.model_id = st.Text(2);
  t.quality = static_cast<float>(st.Double(3));
  t.sealed = st.Blob(4);
  t.created_at_ms = st.Int(5);
  return t;
}

class SqliteBiometricStore final : public biometrics::BiometricStore {
 public:
  explicit SqliteBiometricStore(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}

  Status EnrollSubject(const Subject& s, const std::vector<TemplateRecord>& templates) override {
    std::lock_guard lock(mu_);
    return InTxn([&]() -> Status {
      FACEPAY_ASSIGN_OR_RETURN(auto ins, db_->Prepare(
          "INSERT INTO subjects(id, display_name, external_ref, consent_version, consent_at_ms,"
          " consent_channel, phone_last4_hash, pin_hash, created_at_ms)"
          " VALUES(?,?,?,?,?,?,?,?,?)"));
      Status st = ins.Bind(1, s.id).Bind(2, s.display_name).Bind(3, s.external_ref)
                      .Bind(4, s.consent.text_version).Bind(5, s.consent.at_ms)
                      .Bind(6, s.consent.channel).Bind(7, s.phone_last4_hash)
                      .Bind(8, s.pin_hash).Bind(9, s.created_at_ms).Run();
      if (st.code() == StatusCode::kAlreadyExists) {
        return AlreadyExists("subject_exists", "subject " + s.id + " is already enrolled");
      }
      FACEPAY_RETURN_IF_ERROR(st);
      return InsertTemplates(s.id, templates);
    });
  }

  Status AddTemplates(const std::string& subject_id, const std::vector<TemplateRecord>& templates,
                      int max_templates) override {
    std::lock_guard lock(mu_);
    return InTxn([&]() -> Status {  // BEGIN IMMEDIATE: the only writer until COMMIT
      FACEPAY_ASSIGN_OR_RETURN(auto ex, db_->Prepare("SELECT 1 FROM subjects WHERE id = ?"));
      ex.Bind(1, subject_id);
      FACEPAY_ASSIGN_OR_RETURN(bool found, ex.Step());
      ex.Reset();
      if (!found) return NotFound("subject_not_found", "no subject " + subject_id);
      if (templates.empty()) return Status::Ok();
      FACEPAY_ASSIGN_OR_RETURN(
          auto cnt, db_->Prepare("SELECT count(*) FROM templates WHERE subject_id = ? AND model_id = ?"));
      cnt.Bind(1, subject_id).Bind(2, templates.front().model_id);
      FACEPAY_ASSIGN_OR_RETURN(bool row, cnt.Step());
      const int64_t have = row ? cnt.Int(0) : 0;
      cnt.Reset();
      FACEPAY_RETURN_IF_ERROR(biometrics::CheckTemplateCap(subject_id, have, templates.size(),
                                                           max_templates));
      return InsertTemplates(subject_id, templates);
    });
  }

  StatusOr<std::optional<Subject>> GetSubject(const std::string& id) override {
    std::lock_guard lock(mu_);
    FACEPAY_ASSIGN_OR_RETURN(auto st,
                             db_->Prepare(std::string(kSubjectColumns) + " WHERE id = ?"));
    st.Bind(1, id);
    FACEPAY_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return std::optional<Subject>();
    Subject s = ReadSubject(st);
    st.Reset();
    return std::optional<Subject>(std::move(s));
  }

  StatusOr<std::vector<Subject>> ListSubjects(const std::string& after_id, int limit) override {
    if (limit < 1 || limit > biometrics::kMaxListSubjects) {
      return InvalidArgument("invalid_limit", "limit must be 1.." +
                                                  std::to_string(biometrics::kMaxListSubjects));
    }
    std::lock_guard lock(mu_);
    // TEXT compares with the BINARY collation: byte order, as on PostgreSQL (COLLATE "C").
    FACEPAY_ASSIGN_OR_RETURN(auto st, db_->Prepare(std::string(kSubjectColumns) +
                                                   " WHERE id > ? ORDER BY id LIMIT ?"));
    st.Bind(1, after_id).Bind(2, static_cast<int64_t>(limit));
    std::vector<Subject> out;
    FACEPAY_RETURN_IF_ERROR(st.EachRow([&](const SqliteStmt& r) {
      out.push_back(ReadSubject(r));
    }));
    return out;
  }

  StatusOr<std::vector<int64_t>> EraseSubject(const std::string& id, int64_t at_ms) override {
    std::lock_guard lock(mu_);
    std::vector<int64_t> removed;
    Status s = InTxn([&]() -> Status {
      removed.clear();
      FACEPAY_ASSIGN_OR_RETURN(auto ex, db_->Prepare("SELECT 1 FROM subjects WHERE id = ?"));
      ex.Bind(1, id);
      FACEPAY_ASSIGN_OR_RETURN(bool found, ex.Step());
      ex.Reset();
      if (!found) return NotFound("subject_not_found", "no subject " + id);
      FACEPAY_ASSIGN_OR_RETURN(auto q,
                               db_->Prepare("SELECT id FROM templates WHERE subject_id = ?"));
      q.Bind(1, id);
      FACEPAY_RETURN_IF_ERROR(q.EachRow([&](const SqliteStmt& r) {
        removed.push_back(r.Int(0));
      }));
      for (int64_t t : removed) FACEPAY_RETURN_IF_ERROR(LogChange("remove", t, id, at_ms));
      FACEPAY_ASSIGN_OR_RETURN(auto dt, db_->Prepare("DELETE FROM templates WHERE subject_id = ?"));
      FACEPAY_RETURN_IF_ERROR(dt.Bind(1, id).Run());
      FACEPAY_ASSIGN_OR_RETURN(auto ds, db_->Prepare("DELETE FROM subjects WHERE id = ?"));
      FACEPAY_RETURN_IF_ERROR(ds.Bind(1, id).Run());
      FACEPAY_ASSIGN_OR_RETURN(auto au, db_->Prepare(
          "INSERT INTO erasures(subject_id, templates_removed, at_ms) VALUES(?,?,?)"));
      return au.Bind(1, id).Bind(2, static_cast<int64_t>(removed.size())).Bind(3, at_ms).Run();
    });
    if (!s.ok()) return s;
    return removed;
  }

  StatusOr<std::vector<TemplateRecord>> ListTemplates() override {
    std::lock_guard lock(mu_);
    FACEPAY_ASSIGN_OR_RETURN(auto st, db_->Prepare(std::string(kTemplateColumns) + " ORDER BY id"));
    std::vector<TemplateRecord> out;
    FACEPAY_RETURN_IF_ERROR(st.EachRow([&](const SqliteStmt& r) {
      out.push_back(ReadTemplate(r));
    }));
    return out;
  }

  StatusOr<std::optional<TemplateRecord>> GetTemplate(int64_t template_id) override {
    std::lock_guard lock(mu_);
    FACEPAY_ASSIGN_OR_RETURN(auto st,
                             db_->Prepare(std::string(kTemplateColumns) + " WHERE id = ?"));
    st.Bind(1, template_id);
    FACEPAY_ASSIGN_OR_RETURN(bool row, st.Step());
    std::optional<TemplateRecord> out;
    if (row) out = ReadTemplate(st);
    st.Reset();
    return out;
  }

  StatusOr<std::optional<std::string>> GetTemplateImage(int64_t template_id) override {
    std::lock_guard lock(mu_);
    return OptionalBlob("SELECT sealed FROM template_images WHERE template_id = ?", template_id);
  }

  StatusOr<std::vector<std::pair<int64_t, bool>>> ListSubjectTemplates(
      const std::string& subject_id) override {
    std::lock_guard lock(mu_);
    FACEPAY_ASSIGN_OR_RETURN(auto st, db_->Prepare(
        "SELECT t.id, i.template_id IS NOT NULL FROM templates t"
        " LEFT JOIN template_images i ON i.template_id = t.id"
        " WHERE t.subject_id = ? ORDER BY t.id"));
    st.Bind(1, subject_id);
    std::vector<std::pair<int64_t, bool>> out;
    FACEPAY_RETURN_IF_ERROR(st.EachRow([&](const SqliteStmt& r) {
      out.emplace_back(r.Int(0), r.Int(1) != 0);
    }));
    return out;
  }

  StatusOr<int64_t> CountSubjects() override {
    std::lock_guard lock(mu_);
    return ScalarInt("SELECT COUNT(*) FROM subjects");
  }

  StatusOr<int64_t> LatestSequence() override {
    std::lock_guard lock(mu_);
    return ScalarInt("SELECT COALESCE(MAX(seq), 0) FROM template_changes");
  }

  StatusOr<std::vector<TemplateChange>> ChangesSince(int64_t after, int limit) override {
    std::lock_guard lock(mu_);
    FACEPAY_ASSIGN_OR_RETURN(auto st, db_->Prepare(
        "SELECT seq, op, template_id, subject_id FROM template_changes WHERE seq > ?"
        " ORDER BY seq LIMIT ?"));
    st.Bind(1, after).Bind(2, static_cast<int64_t>(limit));
    std::vector<TemplateChange> out;
    FACEPAY_RETURN_IF_ERROR(st.EachRow([&](const SqliteStmt& r) {
      out.push_back({r.Int(0), r.Text(1) == "add" ? ChangeOp::kAdd : ChangeOp::kRemove,
                     r.Int(2), r.Text(3)});
    }));
    return out;
  }

  StatusOr<std::optional<std::string>> GetMeta(const std::string& key) override {
    std::lock_guard lock(mu_);
    return OptionalBlob("SELECT value FROM biometric_meta WHERE key = ?", key);
  }

  Status PutMeta(const std::string& key, const std::string& value) override {
    std::lock_guard lock(mu_);
    FACEPAY_ASSIGN_OR_RETURN(auto st, db_->Prepare(
        "INSERT INTO biometric_meta(key, value) VALUES(?,?)"
        " ON CONFLICT(key) DO UPDATE SET value = excluded.value"));
    return st.Bind(1, key).BindBlob(2, value).Run();
  }

  Status PutPolicy(const StoredPolicy& p) override {
    std::lock_guard lock(mu_);
    FACEPAY_ASSIGN_OR_RETURN(auto st, db_->Prepare(
        "INSERT OR REPLACE INTO policies(model_id, accept, step_up, second_factor, margin,"
        " max_candidates, target_fpir, measured_fpir, gallery_size, impostor_probes,"
        " calibrated_at_ms) VALUES(?,?,?,?,?,?,?,?,?,?,?)"));
    const auto& t = p.thresholds;
    return st.Bind(1, p.model_id).BindDouble(2, t.accept).BindDouble(3, t.step_up)
        .BindDouble(4, t.second_factor).BindDouble(5, t.margin)
        .Bind(6, static_cast<int64_t>(t.max_candidates)).BindDouble(7, p.target_fpir)
        .BindDouble(8, p.measured_fpir).Bind(9, p.gallery_size).Bind(10, p.impostor_probes)
        .Bind(11, p.calibrated_at_ms).Run();
  }

  StatusOr<std::optional<StoredPolicy>> GetPolicy(const std::string& model_id) override {
    std::lock_guard lock(mu_);
    FACEPAY_ASSIGN_OR_RETURN(auto st, db_->Prepare(
        "SELECT accept, step_up, second_factor, margin, max_candidates, target_fpir,"
        " measured_fpir, gallery_size, impostor_probes, calibrated_at_ms FROM policies"
        " WHERE model_id = ?"));
    st.Bind(1, model_id);
    FACEPAY_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return std::optional<StoredPolicy>();
    StoredPolicy p;
    p.model_id = model_id;
    p.calibrated = true;
    auto& t = p.thresholds;
    t.accept = static_cast<float>(st.Double(0));
    t.step_up = static_cast<float>(st.Double(1));
    t.second_factor = static_cast<float>(st.Double(2));
    t.margin = static_cast<float>(st.Double(3));
    t.max_candidates = static_cast<int>(st.Int(4));
    p.target_fpir = st.Double(5);
    p.measured_fpir = st.Double(6);
    p.gallery_size = st.Int(7);
    p.impostor_probes = st.Int(8);
    p.calibrated_at_ms = st.Int(9);
    st.Reset();
    return std::optional<StoredPolicy>(std::move(p));
  }

  std::string Backend() const override { return "sqlite"; }

 private:
  // Runs `fn` in an IMMEDIATE transaction; commits when it returns ok, else rolls back.
  template <typename Fn>
  Status InTxn(Fn fn) {
    FACEPAY_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
    Status s = fn();
    db_->ResetAll();
    if (!s.ok()) {
      (void)db_->Exec("ROLLBACK");
      return s;
    }
    return db_->Exec("COMMIT");
  }

  // Inserts the subject's templates and logs one "add" each; inside InTxn. The log's
  // AUTOINCREMENT sequence is ordered by commit, since the IMMEDIATE transaction holds the
  // database's write lock.
  Status InsertTemplates(const std::string& subject_id,
                         const std::vector<TemplateRecord>& templates) {
    for (const auto& t : templates) {
      FACEPAY_ASSIGN_OR_RETURN(auto it, db_->Prepare(
          "INSERT INTO templates(id, subject_id, model_id, quality, sealed, created_at_ms)"
          " VALUES(?,?,?,?,?,?)"));
      Status st = it.Bind(1, t.template_id).Bind(2, subject_id).Bind(3, t.model_id)
                      .BindDouble(4, t.quality).BindBlob(5, t.sealed).Bind(6, t.created_at_ms)
                      .Run();
      if (st.code() == StatusCode::kAlreadyExists) {
        return AlreadyExists("template_exists", "template id collision");
      }
      FACEPAY_RETURN_IF_ERROR(st);
      if (!t.sealed_image.empty()) {
        FACEPAY_ASSIGN_OR_RETURN(auto im, db_->Prepare(
            "INSERT INTO template_images(template_id, sealed) VALUES(?,?)"));
        FACEPAY_RETURN_IF_ERROR(im.Bind(1, t.template_id).BindBlob(2, t.sealed_image).Run());
      }
      FACEPAY_RETURN_IF_ERROR(LogChange("add", t.template_id, subject_id, t.created_at_ms));
    }
    return Status::Ok();
  }

  Status LogChange(const char* op, int64_t template_id, const std::string& subject, int64_t at) {
    FACEPAY_ASSIGN_OR_RETURN(auto st, db_->Prepare(
        "INSERT INTO template_changes(op, template_id, subject_id, at_ms) VALUES(?,?,?,?)"));
    return st.Bind(1, op).Bind(2, template_id).Bind(3, subject).Bind(4, at).Run();
  }

  // The blob in the first column of `sql`'s row for `key`; nullopt without a row. Under mu_.
  template <typename Key>
  StatusOr<std::optional<std::string>> OptionalBlob(const char* sql, const Key& key) {
    FACEPAY_ASSIGN_OR_RETURN(auto st, db_->Prepare(sql));
    st.Bind(1, key);
    return st.FirstRow([](const SqliteStmt& r) { return r.Blob(0); });
  }

  StatusOr<int64_t> ScalarInt(const std::string& sql) {
    FACEPAY_ASSIGN_OR_RETURN(auto st, db_->Prepare(sql));
    FACEPAY_ASSIGN_OR_RETURN(bool row, st.Step());
    int64_t v = row ? st.Int(0) : 0;
    st.Reset();
    return v;
  }

  std::mutex mu_;  // guards db_ (one SQLite connection, used by one thread at a time)
  std::unique_ptr<SqliteDb> db_;
};

}  // namespace

int BiometricSchemaVersion() { return kSqliteBiometricSchemaVersion; }

StatusOr<std::unique_ptr<biometrics::BiometricStore>> OpenSqliteBiometricStore(
    const std::string& path) {
  FACEPAY_ASSIGN_OR_RETURN(auto db, SqliteDb::Open(path));
  FACEPAY_RETURN_IF_ERROR(db->Exec("PRAGMA journal_mode=WAL"));
  FACEPAY_RETURN_IF_ERROR(db->Exec("PRAGMA synchronous=FULL"));
  FACEPAY_RETURN_IF_ERROR(db->Exec("PRAGMA foreign_keys=ON"));
  FACEPAY_RETURN_IF_ERROR(MigrateSqliteBiometrics(*db));
  return std::unique_ptr<biometrics::BiometricStore>(new SqliteBiometricStore(std::move(db)));
}

}  // namespace facepay::storage
