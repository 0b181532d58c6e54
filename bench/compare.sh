#!/usr/bin/env bash
# ree-ledger side by side with its ceilings and with PostgreSQL, in one run on this machine
# (BENCHMARKS.md, "Side by side"). Not part of the test run.
#
#   [STORE=sled|log] bench/compare.sh [SECONDS=10]
#
# 1. Ceilings: a no-op tonic server (decodes, answers) driven by the same load generator with the
#    same signed payloads and concurrency; raw sled inserts of record bytes with the same durable
#    sync; ed25519 single and batch verification; blake3 record hashes.
# 2. What a team would build instead: the same hash-chained append into PostgreSQL (Debian's
#    package, started on loopback here, synchronous_commit=on, fsync=on): the common pattern
#    (lock the lot's head FOR UPDATE, insert, update the head, commit) with 64 clients, and the
#    batched pattern (100 rows per commit, generated server side) with 16 clients.
# 3. ree-ledger: signed, authenticated, validated, durable appends through `ree serve`.
# Prints every figure and the ratios of ree-ledger to each.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
STORE=${STORE:-sled}
cargo build --release -q -p ree-cli -p ree-verifier
cargo build --release -q -p ree-server --example noop_server
cargo build --release -q -p ree-store --example ceilings
BIN=target/release
WORK=$(mktemp -d)
chmod 755 "$WORK"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "${PGBIN:-}" ] && [ -d "$WORK/pg" ]; then
    $PGRUN "$PGBIN/pg_ctl" -D "$WORK/pg" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_listen() { for _ in $(seq 200); do grep -q listening "$1" 2>/dev/null && return; sleep 0.1; done; echo "server did not start: $1" >&2; exit 1; }

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)" >&2
echo "== ceilings (one core each unless said)" >&2
$BIN/examples/ceilings --json > "$WORK/ceilings.json"

NOOP_PORT=$(port)
$BIN/examples/noop_server "127.0.0.1:$NOOP_PORT" > "$WORK/noop.out" 2>&1 &
PIDS+=($!)
wait_listen "$WORK/noop.out"
noop() { $BIN/ree bench --server "http://127.0.0.1:$NOOP_PORT" --no-setup --json --duration "$SECS" "$@" 2>/dev/null; }
noop --concurrency 64 --batch 1 > "$WORK/noop_unary.json"
noop --concurrency 1 --connections 1 --batch 1 > "$WORK/noop_single.json"
noop --concurrency 16 --batch 100 > "$WORK/noop_batch.json"
kill "${PIDS[-1]}"

echo "== PostgreSQL" >&2
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  apt-get install -y -q postgresql >&2
fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PGRUN=""
if [ "$(id -u)" = 0 ]; then PGRUN="runuser -u postgres --"; chown postgres "$WORK"; fi
PGPORT=$(port)
$PGRUN "$PGBIN/initdb" -D "$WORK/pg" -U ree --auth=trust >/dev/null
$PGRUN "$PGBIN/pg_ctl" -D "$WORK/pg" -w -l "$WORK/pg.log" \
  -o "-p $PGPORT -k $WORK -c listen_addresses=127.0.0.1 -c synchronous_commit=on -c fsync=on -c max_connections=200 -c shared_buffers=256MB" start >/dev/null
PSQL=(psql -q -h 127.0.0.1 -p "$PGPORT" -U ree -d postgres -v ON_ERROR_STOP=1)
BODY=$(python3 -c 'print("\\x" + "5a" * 200)')
"${PSQL[@]}" <<SQL
CREATE TABLE lots (id int PRIMARY KEY, seq bigint NOT NULL, head bytea NOT NULL);
CREATE TABLE events (lot int NOT NULL, seq bigint NOT NULL, prev bytea NOT NULL,
                     hash bytea NOT NULL, body bytea NOT NULL, PRIMARY KEY (lot, seq));
INSERT INTO lots SELECT g, 0, '\x00'::bytea FROM generate_series(1, 64) g;
SQL
cat > "$WORK/common.sql" <<SQL
\set lot :client_id + 1
BEGIN;
SELECT seq, head FROM lots WHERE id = :lot FOR UPDATE;
INSERT INTO events SELECT :lot, seq + 1, head, sha256(head || '$BODY'::bytea), '$BODY'::bytea FROM lots WHERE id = :lot;
UPDATE lots SET seq = seq + 1, head = sha256(head || '$BODY'::bytea) WHERE id = :lot;
COMMIT;
SQL
cat > "$WORK/batched.sql" <<SQL
\set lot :client_id + 1
BEGIN;
SELECT seq, head FROM lots WHERE id = :lot FOR UPDATE;
INSERT INTO events SELECT :lot, l.seq + g, l.head, sha256(l.head || int8send(g) || '$BODY'::bytea), '$BODY'::bytea FROM lots l, generate_series(1, 100) g WHERE l.id = :lot;
UPDATE lots SET seq = seq + 100, head = sha256(head || int8send(100)) WHERE id = :lot;
COMMIT;
SQL
pgb() { pgbench -n -h 127.0.0.1 -p "$PGPORT" -U ree -j 2 -T "$SECS" "$@" postgres 2>/dev/null | awk '/^tps/ {print $3; exit}'; }
PG_COMMON=$(pgb -c 64 -f "$WORK/common.sql")
PG_BATCH_TPS=$(pgb -c 16 -f "$WORK/batched.sql")
$PGRUN "$PGBIN/pg_ctl" -D "$WORK/pg" -m fast stop >/dev/null

echo "== ree-ledger (store: $STORE)" >&2
REE_PORT=$(port)
RUST_LOG=warn $BIN/ree serve --store "$STORE" --data-dir "$WORK/ree" --listen "127.0.0.1:$REE_PORT" > "$WORK/ree.out" 2>&1 &
PIDS+=($!)
wait_listen "$WORK/ree.out"
ree() { $BIN/ree bench --allow-writes --server "http://127.0.0.1:$REE_PORT" --token-file "$WORK/ree/admin.token" --key "$WORK/ree/admin.key" --json --duration "$SECS" "$@" 2>/dev/null; }
ree --concurrency 64 --batch 1 > "$WORK/ree_unary.json"
ree --concurrency 1 --connections 1 --batch 1 > "$WORK/ree_single.json"
ree --concurrency 16 --batch 100 > "$WORK/ree_batch.json"

python3 - "$WORK" "$PG_COMMON" "$PG_BATCH_TPS" <<'PY'
import json, sys
w, pg_common, pg_batch_tps = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
j = lambda n: json.load(open(f"{w}/{n}.json"))
c = j("ceilings")
nu, ns, nb = j("noop_unary"), j("noop_single"), j("noop_batch")
ru, rs, rb = j("ree_unary"), j("ree_single"), j("ree_batch")
pg_batch = pg_batch_tps * 100
rows = [
  ("ceiling: tonic no-op, unary, 64 in flight", nu["events_per_s"], f'p50 {nu["p50_ms"]:.3f} ms'),
  ("ceiling: tonic no-op, one in flight", ns["events_per_s"], f'p50 {ns["p50_ms"]:.3f} ms'),
  ("ceiling: tonic no-op, batches of 100, 16 in flight", nb["events_per_s"], f'p50 {nb["p50_ms"]:.2f} ms per batch'),
  ("ceiling: raw sled, durable batches of 1", c["sled_durable_batch1_per_s"], f'{c["record_bytes"]}-byte records'),
  ("ceiling: raw sled, durable batches of 100", c["sled_durable_batch100_per_s"], ""),
  ("ceiling: ed25519 verify_strict, 1 core", c["ed25519_verify_per_s"], ""),
  ("ceiling: ed25519 batch verify (64), 1 core", c["ed25519_batch64_verify_per_s"], ""),
  ("ceiling: blake3 record hash, 1 core", c["blake3_record_hashes_per_s"], ""),
  ("PostgreSQL common pattern, 64 clients", pg_common, "FOR UPDATE + insert + update, commit each"),
  ("PostgreSQL batched, 100 rows a commit, 16 clients", pg_batch, ""),
  ("ree-ledger unary, 64 in flight", ru["events_per_s"], f'p50 {ru["p50_ms"]:.3f} ms, p99 {ru["p99_ms"]:.3f} ms'),
  ("ree-ledger one in flight", rs["events_per_s"], f'p50 {rs["p50_ms"]:.3f} ms, p99 {rs["p99_ms"]:.3f} ms'),
  ("ree-ledger batches of 100, 16 in flight", rb["events_per_s"], f'p50 {rb["p50_ms"]:.2f} ms per batch'),
]
print("| measurement | events/s | notes |\n|---|---:|---|")
for name, v, note in rows:
    print(f"| {name} | {v:,.0f} | {note} |")
print()
print("| ratio | value |\n|---|---:|")
ratios = [
  ("ree batched / PostgreSQL common pattern", rb["events_per_s"] / pg_common),
  ("ree batched / PostgreSQL batched", rb["events_per_s"] / pg_batch),
  ("ree unary / PostgreSQL common pattern", ru["events_per_s"] / pg_common),
  ("ree unary (64) / tonic no-op unary (64)", ru["events_per_s"] / nu["events_per_s"]),
  ("ree batched / tonic no-op batched", rb["events_per_s"] / nb["events_per_s"]),
  ("ree batched / raw sled batches of 100", rb["events_per_s"] / c["sled_durable_batch100_per_s"]),
  ("ree batched / 2 cores of ed25519 verify_strict", rb["events_per_s"] / (2 * c["ed25519_verify_per_s"])),
]
for name, v in ratios:
    print(f"| {name} | {v:.2f} |")
print()
fsync_ms = 1000.0 / c["sled_durable_batch1_per_s"]
print(f"one in flight: ree p50 {rs['p50_ms']:.3f} ms vs no-op p50 {ns['p50_ms']:.3f} ms + one durable sled batch {fsync_ms:.3f} ms + 0.1 ms = {ns['p50_ms'] + fsync_ms + 0.1:.3f} ms")
errs = {k: v for k, v in [("noop_unary", nu), ("ree_unary", ru), ("ree_batch", rb), ("ree_single", rs)] if v["errors"]}
if errs:
    print("ERRORS:", {k: v["errors"] for k, v in errs.items()})
PY
