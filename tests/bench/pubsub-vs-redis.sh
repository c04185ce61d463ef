#!/usr/bin/env bash
# PUBLISH fan-out, memkv vs Redis (issue 14, "Benchmark"). Not a test: it reports figures.
#
#   bash tests/bench/pubsub-vs-redis.sh
#
# Cases: one channel with 1, 10 and 100 subscribers, and 10 pattern subscribers (PSUBSCRIBE
# ch*) of it. The publisher is redis-benchmark sending `PUBLISH ch <payload>` as a custom
# command (PUB_CLIENTS connections, -P PIPELINE). The subscribers are tests/bench/pubsub_sub.c,
# built here with cc: one process, epoll over every connection, RESP2; it does not parse, it
# compares each received byte with the expected frame (memcmp) and counts whole frames, so it
# costs far less per delivery than the server and is not the bottleneck (in a 100-subscriber
# run against memkv it used about a quarter of the server's CPU time, the server a full core),
# and it still proves that every subscriber received every message, complete and in order (no
# loss: a run that loses one fails the bench).
#
# Each run: the subscribers connect and confirm, then the clock starts, redis-benchmark
# publishes MESSAGES, and the clock stops when the last subscriber has its last message
# (end to end, delivery included). published/s = MESSAGES / that time; delivered/s =
# published/s x subscribers. Both servers (memkv and Debian's redis-server, no persistence,
# loopback, free ports) run in the same invocation with the same pubsub output-buffer limit
# (256mb 0 0: a slow moment must not disconnect a subscriber and end the run), ROUNDS rounds
# interleaved memkv/redis per case; medians, the memkv/redis ratio, and min..max are printed and
# written to tests/bench/results/pubsub-vs-redis-<date>.txt.
#
# Environment:
#   ROUNDS=5            interleaved rounds (median taken)
#   DELIVERIES=10000000 deliveries per run: MESSAGES = DELIVERIES / subscribers,
#   MAX_MESSAGES=2000000  at most this many (about a second per run)
#   PAYLOAD_SIZE=32     bytes of each message
#   PUB_CLIENTS=8 PIPELINE=16  redis-benchmark -c / -P
#   MEMKV_SERVER=path   use this binary instead of building build-bench (Release)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"

ROUNDS=${ROUNDS:-5}
DELIVERIES=${DELIVERIES:-10000000}
MAX_MESSAGES=${MAX_MESSAGES:-2000000}
PAYLOAD_SIZE=${PAYLOAD_SIZE:-32}
PUB_CLIENTS=${PUB_CLIENTS:-8}
PIPELINE=${PIPELINE:-16}
CASES=("1 channel" "10 channel" "100 channel" "10 pattern")

BENCH_NAME=pubsub-vs-redis
# shellcheck source=tests/bench/lib.sh
. "$REPO/tests/bench/lib.sh"

if [ -n "${MEMKV_SERVER:-}" ]; then NO_BUILD=1; fi
need_tools
need_packages gcc libc6-dev

use_memkv MEMKV MEMKV_SERVER build-bench

bench_init

SUB=$TMP/pubsub_sub
cc -O2 -Wall -Wextra -o "$SUB" "$REPO/tests/bench/pubsub_sub.c" || die "cannot build pubsub_sub"
PAYLOAD=$(head -c "$PAYLOAD_SIZE" /dev/zero | tr '\0' m)

case_name() { if [ "${1#* }" = pattern ]; then echo "${1%% *} psub"; else echo "${1%% *} sub"; fi; }
messages_for() { local n=$((DELIVERIES / $1)); [ "$n" -gt "$MAX_MESSAGES" ] && n=$MAX_MESSAGES; echo "$n"; }

# one_run PORT SUBS KIND MESSAGES -> published messages per second, end to end. Dies on a loss.
one_run() {
    local port=$1 subs=$2 kind=$3 n=$4 out=$TMP/sub.out t0 t1 i pid
    "$SUB" "$port" "$subs" "$kind" ch 'ch*' "$PAYLOAD" "$n" 120 >"$out" 2>"$TMP/sub.err" &
    pid=$!
    for i in $(seq 1 600); do
        grep -q '^ready' "$out" 2>/dev/null && break
        kill -0 "$pid" 2>/dev/null || die "pubsub_sub exited: $(cat "$TMP/sub.err")"
        sleep 0.01
    done
    grep -q '^ready' "$out" || die "pubsub_sub not ready after 6 s"
    t0=$(date +%s.%N)
    timeout 300 redis-benchmark -p "$port" -n "$n" -c "$PUB_CLIENTS" -P "$PIPELINE" -q --csv \
        PUBLISH ch "$PAYLOAD" >"$TMP/rb.out" 2>&1 || die "redis-benchmark failed: $(cat "$TMP/rb.out")"
    wait "$pid" || die "subscribers lost messages (port $port, $subs $kind): $(cat "$TMP/sub.err")"
    t1=$(awk '$1 == "done" {print $2}' "$out")
    [ -n "$t1" ] || die "pubsub_sub said nothing: $(cat "$out" "$TMP/sub.err")"
    awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", n / (b - a)}'
}

say "PUBLISH fan-out, memkv vs Redis — $(date '+%Y-%m-%d %H:%M:%S %z')"
say "memkv:  $MEMKV (commit $(memkv_commit))"
say "redis:  $(redis-server --version)"
say "host:   $(nproc) cores, $(uname -sr); ROUNDS=$ROUNDS DELIVERIES=$DELIVERIES" \
    "MAX_MESSAGES=$MAX_MESSAGES PAYLOAD_SIZE=$PAYLOAD_SIZE PUB_CLIENTS=$PUB_CLIENTS PIPELINE=$PIPELINE"
say "Note: server, publisher and subscribers share the cores: medians of interleaved rounds,"
say "indicative only. Every run checked that every subscriber got every message."
say ""

declare -A PORT PID
for kind in memkv redis; do
    start_server "$kind" plain
    PORT[$kind]=$SRV_PORT PID[$kind]=$SRV_PID
    redis-cli -p "$SRV_PORT" config set client-output-buffer-limit "pubsub 256mb 0 0" >/dev/null
done

declare -A RES
for r in $(seq 1 "$ROUNDS"); do
    for c in "${CASES[@]}"; do
        subs=${c%% *} kind=${c#* }
        n=$(messages_for "$subs")
        for srv in memkv redis; do
            rate=$(one_run "${PORT[$srv]}" "$subs" "$kind" "$n")
            RES[$srv.$c]="${RES[$srv.$c]:-} $rate"
            log "round $r/$ROUNDS $(case_name "$c") ($n messages): $srv $rate published/s"
        done
    done
done
for kind in memkv redis; do
    # (Redis 7.0 has no such field: the subscribers' own check covers it.)
    v=$(info_field "${PORT[$kind]}" stats client_output_buffer_limit_disconnections)
    [ "${v:-0}" = 0 ] || die "$kind disconnected $v subscribers"
    stop_server "${PID[$kind]}" "${PORT[$kind]}"
done

say "== messages per second, end to end (publish start to last delivery), median of $ROUNDS rounds"
say "$(printf '%-9s %8s %11s %11s %7s %13s %13s  %-19s %-19s' case messages 'memkv pub/s' 'redis pub/s' \
    ratio 'memkv deliv/s' 'redis deliv/s' 'memkv min..max' 'redis min..max')"
for c in "${CASES[@]}"; do
    subs=${c%% *}
    read -r -a xs <<<"${RES[memkv.$c]}"
    read -r -a ys <<<"${RES[redis.$c]}"
    mx=$(median "${xs[@]}") my=$(median "${ys[@]}")
    say "$(printf '%-9s %8s %11s %11s %7s %13s %13s  %-19s %-19s' "$(case_name "$c")" "$(messages_for "$subs")" \
        "$(fmt0 "$mx")" "$(fmt0 "$my")" "$(ratio "$mx" "$my")" "$(fmt0 "$(awk -v a="$mx" -v s="$subs" 'BEGIN {print a * s}')")" \
        "$(fmt0 "$(awk -v a="$my" -v s="$subs" 'BEGIN {print a * s}')")" \
        "$(minof "${xs[@]}")..$(maxof "${xs[@]}")" "$(minof "${ys[@]}")..$(maxof "${ys[@]}")")"
done
say "(ratio = memkv/redis, higher is better for memkv; deliv/s = pub/s x subscribers)"
bench_finish
