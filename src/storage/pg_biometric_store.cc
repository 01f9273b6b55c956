// PostgreSQL implementation of biometrics::BiometricStore: one session, serialised by a mutex
// (enrolments and erasures are rare next to searches, which never touch the store; the
// change-log polling of a follower is one indexed range read).
//
// Change-log appends take their sequence numbers from the single-row template_log_head
// (UPDATE ... RETURNING) inside the writing transaction. The row lock it takes is held to
// commit, so appends from every node are serialised and commit in sequence order: a reader
// that sees sequence S has also seen every sequence below S (no late, smaller commits; see
// pg_biometric_schema.cc). Rolled-back writes roll the head back too, so sequences have no
// gaps, although followers do not rely on that.
//
// libpqxx exceptions are caught here and become Unavailable("store_error" |
// "store_unavailable"); a broken session is reopened once per call; deadlocks and
// serialization failures are retried.
#include <cctype>
#include <functional>
#include <mutex>

#include "facepay/storage/biometric_stores.h"
#include "pg_biometric_schema.h"

namespace facepay::storage {
namespace {

using biometrics::ChangeOp;
using biometrics::StoredPolicy;
using biometrics::Subject;
using biometrics::TemplateChange;
using biometrics::TemplateRecord;

constexpr int kMaxRetries = 5;

void PrepareStatements(pqxx::connection& c) {
  c.prepare("bio_insert_subject",
            "INSERT INTO subjects(id, display_name, external_ref, consent_version, "
            "consent_at_ms, consent_channel, phone_last4_hash, pin_hash, created_at_ms) "
            "VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT(id) DO NOTHING RETURNING 1");
  c.prepare("bio_insert_template",
            "INSERT INTO templates(id, subject_id, model_id, quality, sealed, created_at_ms) "
            "VALUES($1,$2,$3,$4,$5,$6) ON CONFLICT(id) DO NOTHING RETURNING 1");
  c.prepare("bio_advance_log",
            "UPDATE template_log_head SET seq = seq + $1 WHERE one = 1 RETURNING seq");
  c.prepare("bio_log_change",
            "INSERT INTO template_changes(seq, op, template_id, subject_id, at_ms) "
            "VALUES($1,$2,$3,$4,$5)");
  const std::string subject_cols =
      "SELECT id, display_name, external_ref, consent_version, consent_at_ms, "
      "consent_channel, phone_last4_hash, pin_hash, created_at_ms FROM subjects";
  c.prepare("bio_get_subject", subject_cols + " WHERE id = $1");
  // Byte order (COLLATE "C", as SQLite's BINARY), served by the subjects_id_c index.
  c.prepare("bio_list_subjects", subject_cols +
                                     " WHERE id COLLATE \"C\" > $1 ORDER BY id COLLATE \"C\" "
                                     "LIMIT $2");
  // FOR SHARE: an erasure of the subject (FOR UPDATE) waits for the adding transaction, or
  // the adding transaction waits for it and then finds no row.
  c.prepare("bio_count_templates",
            "SELECT count(*) FROM templates WHERE subject_id = $1 AND model_id = $2");
  c.prepare("bio_lock_subject", "SELECT 1 FROM subjects WHERE id = $1 FOR UPDATE");
  c.prepare("bio_subject_templates", "SELECT id FROM templates WHERE subject_id = $1 ORDER BY id");
  c.prepare("bio_delete_templates", "DELETE FROM templates WHERE subject_id = $1");
  c.prepare("bio_delete_subject", "DELETE FROM subjects WHERE id = $1");
  c.prepare("bio_insert_erasure",
            "INSERT INTO erasures(subject_id, templates_removed, at_ms) VALUES($1,$2,$3)");
  const std::string cols =
      "SELECT id, subject_id, model_id, quality, sealed, created_at_ms FROM templates";
  c.prepare("bio_list_templates", cols + " ORDER BY id");
  c.prepare("bio_insert_image", "INSERT INTO template_images(template_id, sealed) VALUES($1, $2)");
  c.prepare("bio_get_image", "SELECT sealed FROM template_images WHERE template_id = $1");
  c.prepare("bio_subject_template_images",
            "SELECT t.id, i.template_id IS NOT NULL FROM templates t"
            " LEFT JOIN template_images i ON i.template_id = t.id"
            " WHERE t.subject_id = $1 ORDER BY t.id");
  c.prepare("bio_get_template", cols + " WHERE id = $1");
  c.prepare("bio_count_subjects", "SELECT COUNT(*) FROM subjects");
  c.prepare("bio_latest_seq", "SELECT COALESCE(MAX(seq), 0) FROM template_changes");
  c.prepare("bio_changes_since",
            "SELECT seq, op, template_id, subject_id FROM template_changes WHERE seq > $1 "
            "ORDER BY seq LIMIT $2");
  c.prepare("bio_get_meta", "SELECT value FROM biometric_meta WHERE key = $1");
  c.prepare("bio_put_meta",
            "INSERT INTO biometric_meta(key, value) VALUES($1,$2) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  c.prepare("bio_put_policy",
            "INSERT INTO policies(model_id, accept, step_up, second_factor, margin, "
            "max_candidates, target_fpir, measured_fpir, gallery_size, impostor_probes, "
            "calibrated_at_ms) VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) "
            "ON CONFLICT(model_id) DO UPDATE SET accept = excluded.accept, "
            "step_up = excluded.step_up, second_factor = excluded.second_factor, "
            "margin = excluded.margin, max_candidates = excluded.max_candidates, "
            "target_fpir = excluded.target_fpir, measured_fpir = excluded.measured_fpir, "
            "gallery_size = excluded.gallery_size, impostor_probes = excluded.impostor_probes, "
            "calibrated_at_ms = excluded.calibrated_at_ms");
  c.prepare("bio_get_policy",
            "SELECT accept, step_up, second_factor, margin, max_candidates, target_fpir, "
            "measured_fpir, gallery_size, impostor_probes, calibrated_at_ms FROM policies "
            "WHERE model_id = $1");
}

// `schema` non-empty: the session works in that schema (created when missing), e.g. the border
// watchlist beside the subjects of the same database. Set before the statements are prepared,
// which bind their tables then.
StatusOr<std::unique_ptr<pqxx::connection>> Connect(const std::string& url,
                                                    const std::string& schema) {
  try {
    auto c = std::make_unique<pqxx::connection>(url);
    if (!schema.empty()) {
      pqxx::nontransaction n(*c);
      n.exec("CREATE SCHEMA IF NOT EXISTS " + n.quote_name(schema));
      n.exec("SET search_path TO " + n.quote_name(schema));
    }
    PrepareStatements(*c);
    return c;
  } catch (const std::exception& e) {
    return Unavailable("store_unavailable",
                       std::string("cannot connect to PostgreSQL: ") + e.what());
  }
}

std::string Bytes(const pqxx::field& f) { return pqxx::binarystring(f).str(); }

TemplateRecord ReadTemplate(const pqxx::row& r) {
  TemplateRecord t;
  t.template_id = r[0].as<int64_t>();
  t.subject_id = r[1].c_str();
  t.model_id = r[2].c_str();
  t.quality = static_cast<float>(r[3].as<double>());
  t.sealed = Bytes(r[4]);
  t.created_at_ms = r[5].as<int64_t>();
  return t;
}

Subject ReadSubject(const pqxx::row& row) {
  Subject s;
  s.id = row[0].c_str();
  s.display_name = row[1].c_str();
  s.external_ref = row[2].c_str();
  s.consent = {row[3].c_str(), row[4].as<int64_t>(), row[5].c_str()};
  s.phone_last4_hash = row[6].c_str();
  s.pin_hash = row[7].c_str();
  s.created_at_ms = row[8].as<int64_t>();
  return s;
}

// Reserves `n` change-log sequence numbers (the head's row lock is held until commit) and
// returns the first.
int64_t ReserveSequences(pqxx::transaction_base& w, int64_t n) {
  return w.exec_prepared1("bio_advance_log", n)[0].as<int64_t>() - n + 1;
}

// Inserts the subject's templates, then appends one "add" each to the change log (last, so
// the head's row lock is held only until the commit). Inside the caller's transaction.
StatusOr<bool> InsertTemplates(pqxx::transaction_base& w, const std::string& subject_id,
                               const std::vector<TemplateRecord>& templates) {
  for (const auto& t : templates) {
    if (w.exec_prepared("bio_insert_template", t.template_id, subject_id, t.model_id,
                        static_cast<double>(t.quality), pqxx::binarystring(t.sealed),
                        t.created_at_ms)
            .empty()) {
      return AlreadyExists("template_exists", "template id collision");
    }
    if (!t.sealed_image.empty()) {
      w.exec_prepared("bio_insert_image", t.template_id, pqxx::binarystring(t.sealed_image));
    }
  }
  if (!templates.empty()) {
    int64_t seq = ReserveSequences(w, static_cast<int64_t>(templates.size()));
    for (const auto& t : templates) {
      w.exec_prepared("bio_log_change", seq++, std::string("add"), t.template_id, subject_id,
                      t.created_at_ms);
    }
  }
  return true;
}

class PgBiometricStore final : public biometrics::BiometricStore {
 public:
  PgBiometricStore(std::string url, std::string schema, std::unique_ptr<pqxx::connection> conn)
      : url_(std::move(url)), schema_(std::move(schema)), conn_(std::move(conn)) {}

  Status EnrollSubject(const Subject& s, const std::vector<TemplateRecord>& templates) override {
    StatusOr<bool> done = Run<bool>([&](pqxx::transaction_base& w) -> StatusOr<bool> {
      if (w.exec_prepared("bio_insert_subject", s.id, s.display_name, s.external_ref,
                          s.consent.text_version, s.consent.at_ms, s.consent.channel,
                          s.phone_last4_hash, s.pin_hash, s.created_at_ms)
              .empty()) {
        return AlreadyExists("subject_exists", "subject " + s.id + " is already enrolled");
      }
      return InsertTemplates(w, s.id, templates);
    });
    return done.status();
  }

  Status AddTemplates(const std::string& subject_id, const std::vector<TemplateRecord>& templates,
                      int max_templates) override {
    StatusOr<bool> done = Run<bool>([&](pqxx::transaction_base& w) -> StatusOr<bool> {
      // FOR UPDATE: concurrent adders to one subject (on any node) take turns, so each counts
      // what the others committed.
      if (w.exec_prepared("bio_lock_subject", subject_id).empty()) {
        return NotFound("subject_not_found", "no subject " + subject_id);
      }
      if (templates.empty()) return true;
      const auto have = w.exec_prepared1("bio_count_templates", subject_id,
                                         templates.front().model_id)[0]
                            .as<int64_t>();
      FACEPAY_RETURN_IF_ERROR(biometrics::CheckTemplateCap(subject_id, have, templates.size(),
                                                           max_templates));
      return InsertTemplates(w, subject_id, templates);
    });
    return done.status();
  }

  StatusOr<std::optional<Subject>> GetSubject(const std::string& id) override {
    return Read<std::optional<Subject>>(
        [&](pqxx::transaction_base& w) -> StatusOr<std::optional<Subject>> {
          pqxx::result r = w.exec_prepared("bio_get_subject", id);
          if (r.empty()) return std::optional<Subject>();
          return std::optional<Subject>(ReadSubject(r[0]));
        });
  }

  StatusOr<std::vector<Subject>> ListSubjects(const std::string& after_id, int limit) override {
    if (limit < 1 || limit > biometrics::kMaxListSubjects) {
      return InvalidArgument("invalid_limit", "limit must be 1.." +
                                                  std::to_string(biometrics::kMaxListSubjects));
    }
    return Read<std::vector<Subject>>(
        [&](pqxx::transaction_base& w) -> StatusOr<std::vector<Subject>> {
          std::vector<Subject> out;
          for (const auto& row : w.exec_prepared("bio_list_subjects", after_id, limit)) {
            out.push_back(ReadSubject(row));
          }
          return out;
        });
  }

  StatusOr<std::vector<int64_t>> EraseSubject(const std::string& id, int64_t at_ms) override {
    return Run<std::vector<int64_t>>(
        [&](pqxx::transaction_base& w) -> StatusOr<std::vector<int64_t>> {
          // FOR UPDATE: a concurrent erasure of the same subject waits, then finds no row.
          if (w.exec_prepared("bio_lock_subject", id).empty()) {
            return NotFound("subject_not_found", "no subject " + id);
          }
          std::vector<int64_t> removed;
          for (const auto& row : w.exec_prepared("bio_subject_templates", id)) {
            removed.push_back(row[0].as<int64_t>());
          }
          w.exec_prepared("bio_delete_templates", id);
          w.exec_prepared("bio_delete_subject", id);
          w.exec_prepared("bio_insert_erasure", id, static_cast<int64_t>(removed.size()), at_ms);
          if (!removed.empty()) {
            int64_t seq = ReserveSequences(w, static_cast<int64_t>(removed.size()));
            for (int64_t t : removed) {
              w.exec_prepared("bio_log_change", seq++, std::string("remove"), t, id, at_ms);
            }
          }
          return removed;
        });
  }

  StatusOr<std::vector<TemplateRecord>> ListTemplates() override {
    return Read<std::vector<TemplateRecord>>(
        [&](pqxx::transaction_base& w) -> StatusOr<std::vector<TemplateRecord>> {
          std::vector<TemplateRecord> out;
          for (const auto& row : w.exec_prepared("bio_list_templates")) {
            out.push_back(ReadTemplate(row));
          }
          return out;
        });
  }

  StatusOr<std::optional<TemplateRecord>> GetTemplate(int64_t template_id) override {
    return Read<std::optional<TemplateRecord>>(
        [&](pqxx::transaction_base& w) -> StatusOr<std::optional<TemplateRecord>> {
          pqxx::result r = w.exec_prepared("bio_get_template", template_id);
          std::optional<TemplateRecord> out;
          if (!r.empty()) out = ReadTemplate(r[0]);
          return out;
        });
  }

  StatusOr<std::optional<std::string>> GetTemplateImage(int64_t template_id) override {
    return OptionalBytes("bio_get_image", template_id);
  }

  StatusOr<std::vector<std::pair<int64_t, bool>>> ListSubjectTemplates(
      const std::string& subject_id) override {
    return Read<std::vector<std::pair<int64_t, bool>>>(
        [&](pqxx::transaction_base& w) -> StatusOr<std::vector<std::pair<int64_t, bool>>> {
          std::vector<std::pair<int64_t, bool>> out;
          for (const auto& row : w.exec_prepared("bio_subject_template_images", subject_id)) {
            out.emplace_back(row[0].as<int64_t>(), row[1].as<bool>());
          }
          return out;
        });
  }

  StatusOr<int64_t> CountSubjects() override { return ScalarInt("bio_count_subjects"); }

  StatusOr<int64_t> LatestSequence() override { return ScalarInt("bio_latest_seq"); }

  StatusOr<std::vector<TemplateChange>> ChangesSince(int64_t after, int limit) override {
    return Read<std::vector<TemplateChange>>(
        [&](pqxx::transaction_base& w) -> StatusOr<std::vector<TemplateChange>> {
          std::vector<TemplateChange> out;
          for (const auto& row : w.exec_prepared("bio_changes_since", after, limit)) {
            out.push_back(
                {row[0].as<int64_t>(),
                 std::string(row[1].c_str()) == "add" ? ChangeOp::kAdd : ChangeOp::kRemove,
                 row[2].as<int64_t>(), row[3].c_str()});
          }
          return out;
        });
  }

  StatusOr<std::optional<std::string>> GetMeta(const std::string& key) override {
    return OptionalBytes("bio_get_meta", key);
  }

  Status PutMeta(const std::string& key, const std::string& value) override {
    StatusOr<bool> done = Run<bool>([&](pqxx::transaction_base& w) -> StatusOr<bool> {
      w.exec_prepared("bio_put_meta", key, pqxx::binarystring(value));
      return true;
    });
    return done.status();
  }

  Status PutPolicy(const StoredPolicy& p) override {
    StatusOr<bool> done = Run<bool>([&](pqxx::transaction_base& w) -> StatusOr<bool> {
      const auto& t = p.thresholds;
      w.exec_prepared("bio_put_policy", p.model_id, static_cast<double>(t.accept),
                      static_cast<double>(t.step_up), static_cast<double>(t.second_factor),
                      static_cast<double>(t.margin), t.max_candidates, p.target_fpir,
                      p.measured_fpir, p.gallery_size, p.impostor_probes, p.calibrated_at_ms);
      return true;
    });
    return done.status();
  }

  StatusOr<std::optional<StoredPolicy>> GetPolicy(const std::string& model_id) override {
    return Read<std::optional<StoredPolicy>>(
        [&](pqxx::transaction_base& w) -> StatusOr<std::optional<StoredPolicy>> {
          pqxx::result r = w.exec_prepared("bio_get_policy", model_id);
          if (r.empty()) return std::optional<StoredPolicy>();
          const auto& row = r[0];
          StoredPolicy p;
          p.model_id = model_id;
          p.calibrated = true;
          auto& t = p.thresholds;
          t.accept = static_cast<float>(row[0].as<double>());
          t.step_up = static_cast<float>(row[1].as<double>());
          t.second_factor = static_cast<float>(row[2].as<double>());
          t.margin = static_cast<float>(row[3].as<double>());
          t.max_candidates = row[4].as<int>();
          p.target_fpir = row[5].as<double>();
          p.measured_fpir = row[6].as<double>();
          p.gallery_size = row[7].as<int64_t>();
          p.impostor_probes = row[8].as<int64_t>();
          p.calibrated_at_ms = row[9].as<int64_t>();
          return std::optional<StoredPolicy>(std::move(p));
        });
  }

  std::string Backend() const override { return "postgres"; }

 private:
  // Runs `fn` in one READ COMMITTED transaction; commits when it returns ok, else rolls back.
  template <typename T>
  StatusOr<T> Run(const std::function<StatusOr<T>(pqxx::transaction_base&)>& fn) {
    return Session<T>(fn, /*write=*/true);
  }
  // Runs a single-statement read without BEGIN/COMMIT (one round trip instead of three; one
  // statement sees one snapshot anyway).
  template <typename T>
  StatusOr<T> Read(const std::function<StatusOr<T>(pqxx::transaction_base&)>& fn) {
    return Session<T>(fn, /*write=*/false);
  }

  template <typename T>
  StatusOr<T> Session(const std::function<StatusOr<T>(pqxx::transaction_base&)>& fn, bool write) {
    std::lock_guard lock(mu_);
    for (int attempt = 0;; ++attempt) {
      try {
        if (!conn_ || !conn_->is_open()) {
          FACEPAY_ASSIGN_OR_RETURN(conn_, Connect(url_, schema_));
        }
        if (!write) {
          pqxx::nontransaction n(*conn_);
          return fn(n);
        }
        pqxx::work w(*conn_);
        StatusOr<T> r = fn(w);
        if (r.ok()) w.commit();  // else the destructor rolls back
        return r;
      } catch (const pqxx::broken_connection& e) {
        // Nothing was committed (an interrupted commit raises in_doubt_error instead).
        conn_.reset();
        if (attempt >= 1) return Unavailable("store_unavailable", e.what());
      } catch (const pqxx::sql_error& e) {
        const std::string& state = e.sqlstate();
        const bool retry = state == "40P01" /* deadlock */ || state == "40001" /* serialization */;
        if (!retry || attempt >= kMaxRetries) return Unavailable("store_error", e.what());
      } catch (const std::exception& e) {
        if (conn_ && !conn_->is_open()) conn_.reset();
        return Unavailable("store_error", e.what());
      }
    }
  }

  // The bytes in the first column of `statement`'s row for `key`; nullopt without a row.
  template <typename Key>
  StatusOr<std::optional<std::string>> OptionalBytes(const char* statement, const Key& key) {
    return Read<std::optional<std::string>>(
        [&](pqxx::transaction_base& w) -> StatusOr<std::optional<std::string>> {
          pqxx::result r = w.exec_prepared(statement, key);
          std::optional<std::string> out;
          if (!r.empty()) out = Bytes(r[0][0]);
          return out;
        });
  }

  StatusOr<int64_t> ScalarInt(const char* statement) {
    return Read<int64_t>([&](pqxx::transaction_base& w) -> StatusOr<int64_t> {
      return w.exec_prepared1(statement)[0].as<int64_t>();
    });
  }

  const std::string url_;
  const std::string schema_;  // "" = the connection's default search_path
  std::mutex mu_;  // guards conn_ (one PostgreSQL session, used by one thread at a time)
  std::unique_ptr<pqxx::connection> conn_;
};

}  // namespace

StatusOr<std::unique_ptr<biometrics::BiometricStore>> OpenPgBiometricStore(
    const std::string& url, const std::string& schema) {
  if (!schema.empty()) {
    bool valid = schema.size() <= 63 && (std::islower(static_cast<unsigned char>(schema[0])) ||
                                         schema[0] == '_');
    for (char ch : schema) {
      valid = valid && (std::islower(static_cast<unsigned char>(ch)) ||
                        std::isdigit(static_cast<unsigned char>(ch)) || ch == '_');
    }
    if (!valid) return InvalidArgument("invalid_schema", "schema must match [a-z_][a-z0-9_]{0,62}");
  }
  FACEPAY_ASSIGN_OR_RETURN(auto conn, Connect(url, schema));
  FACEPAY_RETURN_IF_ERROR(MigratePgBiometrics(*conn));
  return std::unique_ptr<biometrics::BiometricStore>(
      new PgBiometricStore(url, schema, std::move(conn)));
}

}  // namespace facepay::storage
