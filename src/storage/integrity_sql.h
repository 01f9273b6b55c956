// Integrity-check queries, valid in both SQLite and PostgreSQL. Each returns one text or
// integer column naming an offending row (at most 100 rows).
#pragma once

namespace facepay::storage::integrity_sql {

inline constexpr char kCountAccounts[] = "SELECT COUNT(*) FROM accounts";
inline constexpr char kCountTransactions[] = "SELECT COUNT(*) FROM transactions";
inline constexpr char kCountEntries[] = "SELECT COUNT(*) FROM entries";

// Transactions whose entries do not sum to zero, or that have fewer than two entries.
inline constexpr char kUnbalanced[] =
    "SELECT t.id FROM transactions t LEFT JOIN (SELECT txn_id, SUM(amount_minor) AS s, "
    "COUNT(*) AS n FROM entries GROUP BY txn_id) e ON e.txn_id = t.id "
    "WHERE e.s IS NULL OR e.s <> 0 OR e.n < 2 ORDER BY t.id LIMIT 100";
// Accounts whose stored balance differs from the sum of their entries.
inline constexpr char kMismatched[] =
    "SELECT a.id FROM accounts a LEFT JOIN (SELECT account_id, SUM(amount_minor) AS s "
    "FROM entries GROUP BY account_id) e ON e.account_id = a.id "
    "WHERE a.balance_minor <> COALESCE(e.s, 0) ORDER BY a.id LIMIT 100";
inline constexpr char kBelowFloor[] =
    "SELECT id FROM accounts WHERE floor_minor IS NOT NULL AND balance_minor < floor_minor "
    "ORDER BY id LIMIT 100";
inline constexpr char kOverRefunded[] =
    "SELECT o.id FROM transactions o JOIN transactions r ON r.ref_txn_id = o.id "
    "AND r.kind = 'refund' GROUP BY o.id, o.amount_minor "
    "HAVING SUM(r.amount_minor) > o.amount_minor ORDER BY o.id LIMIT 100";
inline constexpr char kDuplicateKeys[] =
    "SELECT idem_key FROM transactions WHERE idem_key IS NOT NULL GROUP BY idem_key "
    "HAVING COUNT(*) > 1 ORDER BY idem_key LIMIT 100";

}  // namespace facepay::storage::integrity_sql
