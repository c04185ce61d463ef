#!/usr/bin/env bash
# Transactions, memkv vs Redis (issue 14, "Benchmark"). Not a test: it reports figures.
#
#   bash tests/bench/multi-vs-redis.sh
#
# redis-benchmark cannot send MULTI/EXEC (a custom command line is one command per request),
# so the load is a file of TX transactions fed through `redis-cli --pipe` (one connection, the
# whole file pipelined: the server's cost per transaction, not round trips):
#
#   tx      MULTI / SET key:<i> xxx / INCR counter:<i mod 100> / EXEC
#   plain   SET key:<i> xxx / INCR counter:<i mod 100>  (the same work without the transaction)
#
# Both servers (memkv and Debian's redis-server, no persistence, free loopback ports) run in the
# same invocation, ROUNDS rounds interleaved memkv/redis/memkv/redis…; the median transactions
# per second of each, the memkv/redis ratio, and each server's cost of the transaction itself
# (tx against plain) are printed and written to tests/bench/results/multi-vs-redis-<date>.txt.
#
# Environment:
#   ROUNDS=5           interleaved rounds (median taken)
#   TX=200000          transactions per run
#   KEYSPACE=100000    distinct keys the SETs write
#   MEMKV_SERVER=path  use this binary instead of building build-bench (Release)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"

ROUNDS=${ROUNDS:-5}
TX=${TX:-200000}
KEYSPACE=${KEYSPACE:-100000}

BENCH_NAME=multi-vs-redis
# shellcheck source=tests/bench/lib.sh
. "$REPO/tests/bench/lib.sh"

if [ -n "${MEMKV_SERVER:-}" ]; then NO_BUILD=1; fi
need_tools

use_memkv MEMKV MEMKV_SERVER build-bench

bench_init

# make_tx_pipe FILE N WITH_MULTI: the load as RESP.
make_tx_pipe() {
    "$PY" - "$1" "$2" "$3" "$KEYSPACE" <<'EOF'
import sys
path, n, multi, keyspace = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", int(sys.argv[4])
def enc(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out
MULTI, EXEC = enc(b"MULTI"), enc(b"EXEC")
with open(path, "wb") as f:
    buf = []
    for i in range(n):
        body = (enc(b"SET", b"key:%012d" % (i * 7919 % keyspace), b"xxx")
                + enc(b"INCR", b"counter:%d" % (i % 100)))
        buf.append(MULTI + body + EXEC if multi else body)
        if len(buf) == 65536:
            f.write(b"".join(buf))
            buf = []
    f.write(b"".join(buf))
EOF
}

TXPIPE=$TMP/tx.resp
PLAINPIPE=$TMP/plain.resp
make_tx_pipe "$TXPIPE" "$TX" 1
make_tx_pipe "$PLAINPIPE" "$TX" 0

say "MULTI/SET/INCR/EXEC, memkv vs Redis — $(date '+%Y-%m-%d %H:%M:%S %z')"
say "memkv:  $MEMKV (commit $(memkv_commit))"
say "redis:  $(redis-server --version)"
say "host:   $(nproc) cores, $(uname -sr); ROUNDS=$ROUNDS TX=$TX KEYSPACE=$KEYSPACE"
say "Note: 2 shared cores, noisy: medians of interleaved rounds, indicative only."
say ""

start_server memkv plain
MK_PORT=$SRV_PORT MK_PID=$SRV_PID
start_server redis plain
RD_PORT=$SRV_PORT RD_PID=$SRV_PID

declare -A RES
for r in $(seq 1 "$ROUNDS"); do
    for load in tx plain; do
        if [ "$load" = tx ]; then file=$TXPIPE replies=$((TX * 4)); else file=$PLAINPIPE replies=$((TX * 2)); fi
        for kind in memkv redis; do
            if [ "$kind" = memkv ]; then port=$MK_PORT; else port=$RD_PORT; fi
            s=$(timed "$TMP/pipe.out" load_pipe "$port" "$file" "$replies")
            rate=$(awk -v n="$TX" -v s="$s" 'BEGIN {printf "%.0f", n / s}')
            RES[$kind.$load]="${RES[$kind.$load]:-} $rate"
            log "round $r/$ROUNDS $load: $kind $rate transactions/s"
        done
    done
done
# The transactions did their work in both.
for port in "$MK_PORT" "$RD_PORT"; do
    v=$(redis-cli -p "$port" get counter:0 | tr -d '\r')
    [ "$v" = $((2 * ROUNDS * ((TX + 99) / 100))) ] || log "warning: counter:0 is $v on port $port"
done
stop_server "$MK_PID" "$MK_PORT"
stop_server "$RD_PID" "$RD_PORT"

say "== redis-cli --pipe, $TX per run, median of $ROUNDS interleaved rounds (per second: one 'tx' = MULTI SET INCR EXEC, one 'plain' = SET INCR)"
say "$(printf '%-7s %12s %12s %8s  %-21s %-21s' load memkv redis ratio 'memkv min..max' 'redis min..max')"
declare -A MED
for load in tx plain; do
    read -r -a xs <<<"${RES[memkv.$load]}"
    read -r -a ys <<<"${RES[redis.$load]}"
    MED[memkv.$load]=$(median "${xs[@]}")
    MED[redis.$load]=$(median "${ys[@]}")
    say "$(printf '%-7s %12s %12s %8s  %-21s %-21s' "$load" "${MED[memkv.$load]}" "${MED[redis.$load]}" \
        "$(ratio "${MED[memkv.$load]}" "${MED[redis.$load]}")" \
        "$(minof "${xs[@]}")..$(maxof "${xs[@]}")" "$(minof "${ys[@]}")..$(maxof "${ys[@]}")")"
done
say "(ratio = memkv/redis, higher is better for memkv)"
say "transaction overhead (tx/plain rate): memkv $(ratio "${MED[memkv.tx]}" "${MED[memkv.plain]}")," \
    "redis $(ratio "${MED[redis.tx]}" "${MED[redis.plain]}")"
bench_finish
