#!/usr/bin/env bash
# Soak test (not part of the default test run): a release `ree serve` under sustained load from
# `ree bench` submitters plus live watchers, for a chosen duration. Reports events acknowledged,
# errors by status code, server RSS over time, store size on disk per acknowledged event, and
# checks that nothing acknowledged was lost and that every watcher saw every event exactly once.
#
#   [STORE=sled|log] bench/soak.sh [DURATION_SECS=600] [CONCURRENCY=32] [BATCH=10]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-600}
CONC=${2:-32}
BATCH=${3:-10}
STORE=${STORE:-sled}   # STORE=log: the append-only segment log
cargo build --release -q -p ree-cli
REE=target/release/ree
DIR=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export REE_SERVER="http://127.0.0.1:$PORT"
RUST_LOG=warn $REE serve --store "$STORE" --data-dir "$DIR/data" --listen "127.0.0.1:$PORT" > "$DIR/serve.out" 2> "$DIR/serve.err" &
SERVER=$!
# The store grows by ~700 bytes per event: remove it afterwards unless KEEP=1.
trap 'kill $SERVER 2>/dev/null || true; kill $(jobs -p) 2>/dev/null || true; [ "${KEEP:-0}" = 1 ] || rm -rf "$DIR"' EXIT
for _ in $(seq 100); do grep -q listening "$DIR/serve.out" 2>/dev/null && break; sleep 0.1; done
# Participants: the administrator (created by the first start), a supplier and the plant.
ADMIN=(--token-file "$DIR/data/admin.token" --key "$DIR/data/admin.key")
for who in supplier plant_operator; do
  $REE keygen -o "$DIR/$who.key" > /dev/null
  $REE participant add "${ADMIN[@]}" --name "soak $who" --role $who --country FR \
    --public-key "$DIR/$who.key.pub" --token-out "$DIR/$who.token" > /dev/null
done
AS_SUPPLIER=(--token-file "$DIR/supplier.token" --key "$DIR/supplier.key")
AS_PLANT=(--token-file "$DIR/plant_operator.token" --key "$DIR/plant_operator.key")

# A watched lot that receives a steady trickle of events during the run.
LOT=$(python3 -c 'import uuid; print(uuid.uuid4())')
echo "{\"oreReceipt\": {\"lotId\": \"$LOT\", \"supplier\": \"soak\", \"mineSite\": \"soak\", \"country\": \"AU\", \"massG\": \"1000000000\", \"reoGradePpm\": 1}}" | $REE submit "${AS_SUPPLIER[@]}" - > /dev/null
for w in 1 2; do $REE watch "${AS_PLANT[@]}" "$LOT" > "$DIR/watch$w.out" 2> "$DIR/watch$w.err" & done
(
  end=$((SECONDS + DURATION))
  while [ $SECONDS -lt $end ]; do
    echo "{\"adjustment\": {\"lotId\": \"$LOT\", \"deltaG\": \"-1\", \"reason\": \"soak\"}}" | $REE submit "${AS_PLANT[@]}" - > /dev/null 2>> "$DIR/trickle.err" || true
    sleep 0.5
  done
) &
TRICKLE=$!

echo "t_s,rss_kib,store_bytes" > "$DIR/rss.csv"
(
  start=$SECONDS
  while kill -0 $SERVER 2>/dev/null; do
    rss=$(awk '/VmRSS/ {print $2}' /proc/$SERVER/status 2>/dev/null || echo 0)
    echo "$((SECONDS - start)),$rss,$(du -sb "$DIR/data" | cut -f1)" >> "$DIR/rss.csv"
    sleep 10
  done
) &

$REE bench --allow-writes "${ADMIN[@]}" --duration "$DURATION" --concurrency "$CONC" --connections 4 --batch "$BATCH" --json > "$DIR/bench.json"
wait $TRICKLE
sleep 1
TOTAL=$($REE lots "${ADMIN[@]}" --json | python3 -c 'import json,sys; print(sum(l["events"] for l in json.load(sys.stdin) if l["kind"] != "registry"))')
WATCHED=$($REE lot "${ADMIN[@]}" "$LOT" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["events"])')
kill -TERM $SERVER; wait $SERVER || true
CHECK_START=$SECONDS
$REE check --data-dir "$DIR/data" > "$DIR/check.out"
echo "check took $((SECONDS - CHECK_START)) s" >> "$DIR/check.out"
STORE=$(du -sb "$DIR/data" | cut -f1)

python3 - "$DIR" "$TOTAL" "$WATCHED" "$STORE" "$CONC" <<'PY'
import csv, json, sys
d, total, watched, store, conc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
b = json.load(open(f"{d}/bench.json"))
acked = b["events"] + conc + watched  # bench appends + its setup receipts + the watched lot's events
rows = list(csv.DictReader(open(f"{d}/rss.csv")))
rss = [int(r["rss_kib"]) for r in rows if r["rss_kib"] != "0"]
w = [sum(1 for _ in open(f"{d}/watch{i}.out")) for i in (1, 2)]
print(f"duration            {b['duration_s']:.0f} s, {conc} in flight, batch {b['batch']}")
print(f"events acknowledged {acked} ({b['events_per_s']:.0f}/s from the load generator)")
print(f"events stored       {total}  -> lost: {acked - total}")
print(f"errors by status    {b['errors'] or 'none'}")
print(f"latency             p50 {b['p50_ms']:.2f} ms, p99 {b['p99_ms']:.2f} ms, p99.9 {b['p999_ms']:.2f} ms")
print(f"server RSS (MiB)    " + ", ".join(f"{int(r['t_s'])}s:{int(r['rss_kib'])//1024}" for r in rows[:: max(1, len(rows)//12)]))
if rss:
    print(f"RSS first/last/max  {rss[0]//1024} / {rss[-1]//1024} / {max(rss)//1024} MiB")
print(f"store on disk       {store} bytes = {store/total:.0f} bytes per event")
print(f"watchers            saw {w} events of the watched lot's {watched}")
print(open(f"{d}/check.out").read().strip())
ok = acked == total and all(x == watched for x in w)
print("RESULT", "PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
PY
