#!/usr/bin/env bash
# Ledger benchmark set recorded in docs/benchmarks.md: `facepay bench ledger` on SQLite and on
# PostgreSQL, 1 and 8 client threads, synchronous clients (1 charge in flight each) and
# pipelined clients (32 in flight each). Durable commits throughout (SQLite synchronous=FULL,
# PostgreSQL defaults: fsync=on, synchronous_commit=on).
#
#   bench/ledger.sh                    # release build; starts a throwaway PostgreSQL
#   FACEPAY_BENCH_PG_URL=postgresql://... bench/ledger.sh   # use an existing database
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$here/build/release/apps/facepay/facepay"
[ -x "$bin" ] || { echo "build first: cmake --preset release && cmake --build --preset release" >&2; exit 1; }
work="$(mktemp -d /tmp/facepay-bench.XXXXXX)"
pg_state="$work/pg"
cleanup() { [ -z "${FACEPAY_BENCH_PG_URL:-}" ] && "$here/tests/support/pg-test-server" stop "$pg_state" >/dev/null 2>&1; rm -rf "$work"; }
trap cleanup EXIT
charges="${CHARGES:-20000}"

for inflight in 1 32; do
  n=$charges; [ "$inflight" = 1 ] && n=$((charges / 10))
  "$bin" bench ledger --store "$work/bench-$inflight.db" --threads 1 8 --inflight "$inflight" --charges "$n"
done

if [ -n "${FACEPAY_BENCH_PG_URL:-}" ]; then
  url="$FACEPAY_BENCH_PG_URL"
else
  "$here/tests/support/pg-test-server" start "$pg_state"
  admin="$(cat "$pg_state/url")"
  psql "$admin" -qc "CREATE DATABASE facepay_bench"
  url="${admin%/postgres}/facepay_bench"
fi
for inflight in 1 32; do
  n=$charges; [ "$inflight" = 1 ] && n=$((charges / 10))
  "$bin" bench ledger --store "$url" --threads 1 8 --inflight "$inflight" --charges "$n"
done
