#!/usr/bin/env bash
# What RESP3 costs against RESP2 (issue 14, "Benchmark": target, RESP3 costs nothing
# measurable). Not a test: it reports figures.
#
#   bash tests/bench/resp3-vs-resp2.sh
#
# User-space instructions per request (Ir, valgrind --tool=callgrind), memkv and Debian's
# redis-server (for reference) in the same invocation. Each run: start the server under
# callgrind (memkv with --hz 1, redis with CONFIG SET hz 1: the cron's work follows the wall
# clock, not the requests), preload KEYSPACE strings, feed one redis-cli --pipe file of
# CG_REQUESTS requests, shut down; minus an idle run (start, preload, PING, shutdown); divided
# by CG_REQUESTS. The files of a pair are the same bytes but their first request: HELLO 2 or
# HELLO 3 (one request in CG_REQUESTS + 1; both pay for a HELLO, so the difference is the
# protocol alone):
#   SET        SET of an existing key            (+OK in both protocols)
#   GET        GET of an existing key            (the same bulk string in both)
#   GET null   GET of a missing key              ($-1 in RESP2, _ in RESP3)
#   HGETALL    HGETALL of a 4-field hash         (a flat array of 8 in RESP2, a map %4 in RESP3)
# The reply writer renders each shape for the connection's protocol, so a handler does not
# branch on it; this measures what that rendering costs per request. For memkv the functions
# whose self Ir per request grew most from RESP2 to RESP3 (GET) are listed.
#
# Results go to stdout and tests/bench/results/resp3-vs-resp2-<date>.txt (gitignored).
#
# Environment:
#   CG_REQUESTS=100000  requests per load
#   KEYSPACE=100000     strings preloaded (and HASHES=KEYSPACE/10 hashes of 4 fields)
#   TOP=6               functions listed
#   CG_REDIS=1          also run redis-server (0: memkv only)
#   MEMKV_SERVER=path   use this binary instead of building build-bench (Release)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"

CG_REQUESTS=${CG_REQUESTS:-100000}
KEYSPACE=${KEYSPACE:-100000}
HASHES=${HASHES:-$((KEYSPACE / 10))}
TOP=${TOP:-6}
CG_REDIS=${CG_REDIS:-1}

BENCH_NAME=resp3-vs-resp2
# shellcheck source=tests/bench/lib.sh
. "$REPO/tests/bench/lib.sh"

if [ -n "${MEMKV_SERVER:-}" ]; then NO_BUILD=1; fi
need_tools
use_memkv MEMKV MEMKV_SERVER build-bench
SERVER_ARGS[memkv]="--hz 1"
KINDS=(memkv)
[ "$CG_REDIS" = 1 ] && KINDS+=(redis)

bench_init
CG=$TMP/callgrind
mkdir -p "$CG"

# The preload and the load files (RESP), written once.
"$PY" - "$TMP" "$KEYSPACE" "$HASHES" "$CG_REQUESTS" <<'EOF'
import sys
tmp, keyspace, hashes, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def enc(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)
def key(i):
    return b"key:%012d" % (i * 7919 % keyspace)
with open(tmp + "/preload.resp", "wb") as f:
    f.write(b"".join(enc(b"SET", b"key:%012d" % i, b"x" * 32) for i in range(keyspace)))
    f.write(b"".join(enc(b"HSET", b"hash:%d" % i, b"f1", b"v1", b"f2", b"v2", b"f3", b"v3",
                         b"f4", b"v4") for i in range(hashes)))
loads = {
    "set": lambda i: enc(b"SET", key(i), b"y" * 32),
    "get": lambda i: enc(b"GET", key(i)),
    "getnull": lambda i: enc(b"GET", b"missing:%012d" % i),
    "hgetall": lambda i: enc(b"HGETALL", b"hash:%d" % (i * 7919 % hashes)),
}
for name, make in loads.items():
    body = b"".join(make(i) for i in range(n))
    for proto in (b"2", b"3"):
        with open("%s/load.%s%s.resp" % (tmp, name, proto.decode()), "wb") as f:
            f.write(enc(b"HELLO", proto) + body)
EOF
PRELOAD=$TMP/preload.resp
PRELOAD_N=$((KEYSPACE + HASHES))
LOADS=(set get getnull hgetall)
declare -A TITLE=([set]="SET" [get]="GET" [getnull]="GET null" [hgetall]="HGETALL")

# Hooks of cg_run (lib.sh): Redis's cron at 1 Hz too; the key count before stopping.
cg_started() { [ "$1" != redis ] || redis-cli -p "$2" config set hz 1 >/dev/null; }
cg_stopping() {
    local n
    n=$(dbsize "$3")
    [ "$n" = "$PRELOAD_N" ] || die "$1 $2: DBSIZE $n, expected $PRELOAD_N"
}
cg_pipe_load() { load_pipe "$1" "$TMP/load.$2.resp" $((CG_REQUESTS + 1)); }

say "RESP3 against RESP2, callgrind instructions per request — $(date '+%Y-%m-%d %H:%M:%S %z')"
say "memkv:  ${MEMKV#"$REPO"/} (commit $(memkv_commit)), ${SERVER_ARGS[memkv]}"
say "redis:  $(redis-server --version) (CONFIG SET hz 1)"
say "tools:  $(redis-cli --version), $(valgrind --version)"
say "host:   $(nproc) cores, $(uname -sr); CG_REQUESTS=$CG_REQUESTS KEYSPACE=$KEYSPACE HASHES=$HASHES"
say ""

for k in "${KINDS[@]}"; do
    cg_run "$k" idle
    CG_LOAD=cg_pipe_load
    for l in "${LOADS[@]}"; do
        for p in 2 3; do cg_run "$k" "$l$p" "$l$p"; done
    done
    unset CG_LOAD
done

say "== Ir per request (run - idle run) / $CG_REQUESTS, redis-cli --pipe (one connection, deep pipelining)"
say "$(printf '%-9s %10s %10s %9s %8s   %10s %10s %9s %8s' load 'memkv R2' 'memkv R3' 'R3-R2' 'R3/R2' 'redis R2' 'redis R3' 'R3-R2' 'R3/R2')"
for l in "${LOADS[@]}"; do
    row=$(printf '%-9s' "${TITLE[$l]}")
    for k in memkv redis; do
        if [ -z "${IR[$k.idle]:-}" ]; then
            row="$row$(printf ' %10s %10s %9s %8s  ' - - - -)"
            continue
        fi
        a=$(cg_per_req "$k" "${l}2")
        b=$(cg_per_req "$k" "${l}3")
        row="$row$(printf ' %10.1f %10.1f %+9.1f %8s  ' "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN {print b - a}')" "$(ratio "$b" "$a" 4)")"
    done
    say "$row"
done
say "(R2/R3: the file starts with HELLO 2 / HELLO 3; R3/R2 = 1.0000 is the target for memkv)"
say ""
for l in get hgetall; do
    cg_delta "$CG/callgrind.memkv.${l}3.out" "$CG/callgrind.memkv.${l}2.out" >"$CG/delta.$l"
    say "== memkv ${TITLE[$l]}: the $TOP functions whose self Ir grew most from RESP2 to RESP3 (per request)"
    cg_top "$TOP" 0 "$CG/delta.$l" | tee -a "$REPORT"
    awk -F'\t' -v n="$CG_REQUESTS" '{if ($1 > 0) up += $1; else down += $1}
        END {printf "  (all functions: %+.1f grew, %+.1f shrank, net %+.1f Ir/request)\n", up / n, down / n, (up + down) / n}' \
        "$CG/delta.$l" | tee -a "$REPORT"
done
bench_finish
