#!/usr/bin/env bash
# What client-side caching costs (CLIENT TRACKING). Not a test: it reports figures.
#
#   bash tests/bench/tracking.sh
#
# User-space instructions per request (Ir, valgrind --tool=callgrind) of two memkv binaries in
# the same invocation: this tree ("memkv") and the tree at BASE ("base", the commit before
# client-side caching, built from `git archive` in the scratch directory). Each run: start the
# server under callgrind with --hz 1, preload KEYSPACE strings, feed one redis-cli --pipe file
# of CG_REQUESTS requests, shut down; minus an idle run; divided by CG_REQUESTS.
#   SET, GET            nobody tracks: the cost the hot path must not see (memkv against base)
#   GET tracking        the pipe's connection has CLIENT TRACKING ON (RESP2, no redirect: its
#                       keys are remembered, nothing is sent); every GET remembers its key
#   GET tracking, re-reads   the same, over 1000 keys: after the first round each key is in
#                       the table already (a lookup, no allocation)
#   SET tracking        the same connection writes (keys it did not read): the db's change
#                       hook is set, so each write looks its key up in the tracking table
# The first request of a file is PING (off) or CLIENT TRACKING ON, so both pay one request.
#
# Results go to stdout and tests/bench/results/tracking-<date>.txt (gitignored).
#
# Environment:
#   CG_REQUESTS=100000  requests per load
#   KEYSPACE=100000     strings preloaded
#   BASE=<commit>       the base tree (default: the parent of the first commit that has
#                       src/server/tracking.c)
#   MEMKV_SERVER=path   use this binary instead of building build-bench (Release)
#   MEMKV_BASE=path     use this binary as the base instead of building BASE
#   TOP=6               functions listed
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"

CG_REQUESTS=${CG_REQUESTS:-100000}
KEYSPACE=${KEYSPACE:-100000}
TOP=${TOP:-6}

BENCH_NAME=tracking
# shellcheck source=tests/bench/lib.sh
. "$REPO/tests/bench/lib.sh"

need_tools
if [ -n "${MEMKV_SERVER:-}" ]; then
    MEMKV=$(readlink -f "$MEMKV_SERVER")
else
    build_memkv build-bench
    MEMKV=$REPO/build-bench/src/memkv-server
fi
bench_init
CG=$TMP/callgrind
mkdir -p "$CG"

if [ -n "${MEMKV_BASE:-}" ]; then
    BASE_BIN=$(readlink -f "$MEMKV_BASE")
    BASE_DESC=${MEMKV_BASE}
else
    if [ -z "${BASE:-}" ]; then
        first=$(git log --diff-filter=A --format=%H -- src/server/tracking.c | tail -n 1)
        [ -n "$first" ] || die "no commit adds src/server/tracking.c: set BASE"
        BASE=$(git rev-parse "$first^")
    fi
    log "building the base tree ($BASE, Release)"
    mkdir -p "$TMP/base"
    git archive "$BASE" | tar -x -C "$TMP/base"
    cmake -S "$TMP/base" -B "$TMP/base/build" -DCMAKE_BUILD_TYPE=Release -DMEMKV_BUILD_TESTS=OFF >/dev/null
    cmake --build "$TMP/base/build" -j"$(nproc)" --target memkv-server >/dev/null
    BASE_BIN=$TMP/base/build/src/memkv-server
    BASE_DESC="commit $(git rev-parse --short "$BASE")"
fi
[ -x "$BASE_BIN" ] || die "no base binary ($BASE_BIN)"
SERVER_BIN[base]=$BASE_BIN
SERVER_ARGS[memkv]="--hz 1"
SERVER_ARGS[base]="--hz 1"

"$PY" - "$TMP" "$KEYSPACE" "$CG_REQUESTS" <<'EOF'
import sys
tmp, keyspace, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def enc(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)
def key(i):
    return b"key:%012d" % (i * 7919 % keyspace)
with open(tmp + "/preload.resp", "wb") as f:
    f.write(b"".join(enc(b"SET", b"key:%012d" % i, b"x" * 32) for i in range(keyspace)))
first = {"off": enc(b"PING"), "on": enc(b"CLIENT", b"TRACKING", b"ON")}
for mode, head in first.items():
    with open("%s/load.get.%s.resp" % (tmp, mode), "wb") as f:
        f.write(head + b"".join(enc(b"GET", key(i)) for i in range(n)))
    with open("%s/load.getre.%s.resp" % (tmp, mode), "wb") as f:
        f.write(head + b"".join(enc(b"GET", key(i % 1000)) for i in range(n)))
    with open("%s/load.set.%s.resp" % (tmp, mode), "wb") as f:
        f.write(head + b"".join(enc(b"SET", key(i), b"y" * 32) for i in range(n)))
EOF
PRELOAD=$TMP/preload.resp
PRELOAD_N=$KEYSPACE

cg_started() { :; }
cg_stopping() {
    local n
    n=$(dbsize "$3")
    [ "$n" = "$PRELOAD_N" ] || die "$1 $2: DBSIZE $n, expected $PRELOAD_N"
}
cg_pipe_load() { load_pipe "$1" "$TMP/load.$2.resp" $((CG_REQUESTS + 1)); }

say "Client-side caching: callgrind instructions per request — $(date '+%Y-%m-%d %H:%M:%S %z')"
say "memkv:  ${MEMKV#"$REPO"/} (commit $(memkv_commit)), --hz 1"
say "base:   $BASE_DESC, --hz 1"
say "tools:  $(redis-cli --version), $(valgrind --version)"
say "host:   $(nproc) cores, $(uname -sr); CG_REQUESTS=$CG_REQUESTS KEYSPACE=$KEYSPACE"
say ""

CG_LOAD=cg_pipe_load
for k in base memkv; do
    unset CG_LOAD
    cg_run "$k" idle
    CG_LOAD=cg_pipe_load
    cg_run "$k" set.off set.off
    cg_run "$k" get.off get.off
done
cg_run memkv get.on get.on
cg_run memkv getre.on getre.on
cg_run memkv set.on set.on
unset CG_LOAD

say "== Ir per request (run - idle run) / $CG_REQUESTS, redis-cli --pipe (one connection)"
say "$(printf '%-28s %10s %10s %9s %8s' load base memkv memkv-base memkv/base)"
for l in set get; do
    a=$(cg_per_req base "$l.off")
    b=$(cg_per_req memkv "$l.off")
    say "$(printf '%-28s %10.1f %10.1f %+9.1f %8s' "${l^^}, nobody tracks" "$a" "$b" \
        "$(awk -v a="$a" -v b="$b" 'BEGIN {print b - a}')" "$(ratio "$b" "$a" 4)")"
done
declare -A ROW=([get]="GET, the client tracks" [getre]="GET, tracks, re-reads" [set]="SET, the client tracks")
for l in get getre set; do
    a=$(cg_per_req memkv "${l%re}.off")
    b=$(cg_per_req memkv "$l.on")
    say "$(printf '%-28s %10s %10.1f %+9.1f %8s' "${ROW[$l]}" "(off $a)" "$b" \
        "$(awk -v a="$a" -v b="$b" 'BEGIN {print b - a}')" "$(ratio "$b" "$a" 4)")"
done
say "(memkv-base with nobody tracking is the target: 0 within noise; 'the client tracks' rows"
say " compare with memkv's own run where nobody tracks)"
say ""
for l in get getre set; do
    cg_delta "$CG/callgrind.memkv.$l.on.out" "$CG/callgrind.memkv.${l%re}.off.out" >"$CG/delta.$l"
    say "== memkv ${ROW[$l]}: the $TOP functions whose self Ir grew most (per request)"
    cg_top "$TOP" 0 "$CG/delta.$l" | tee -a "$REPORT"
done
bench_finish
