#!/usr/bin/env bash
# Signed batched appends against a fresh server, with the server's CPU split by thread
# (BENCHMARKS.md): scripts/measure_appends.sh BINARY PORT "SERVE_FLAGS" "BENCH_FLAGS"
# e.g. scripts/measure_appends.sh target/release/ree 7331 "--submit-rate 0" "--allow-writes"
set -euo pipefail
B=$1; P=$2; D=$(mktemp -d)/d
($B serve --data-dir "$D" --store log $3 --listen 127.0.0.1:"$P" > "$D.log" 2>&1 &)
sleep 3
PID=$(pgrep -f "serve --data-dir $D " | head -1)
snap() {
  for t in /proc/"$PID"/task/*; do echo "$(tr ' ' _ < "$t/comm") $(awk '{print $14+$15}' "$t/stat")"; done |
    awk '{a[$1]+=$2} END {for (k in a) print k, a[k]}' | sort
}
snap > "$D.s0"
$B bench --server http://127.0.0.1:"$P" $4 --token-file "$D/admin.token" --key "$D/admin.key" \
  --duration 8 --concurrency 16 --batch 100 --json | grep -E '"events"|events_per_s' | tr -d '\n'
echo
snap > "$D.s1"
join "$D.s0" "$D.s1" | awk '{printf "%s %.2f s CPU; ", $1, ($3-$2)/100}'
echo
pkill -f "serve --data-dir $D " || true
