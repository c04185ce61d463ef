#!/usr/bin/env bash
# Lua scripting, memkv vs Redis (issue 15, "Benchmark": target >= 1.0). Not a test: it reports
# figures.
#
#   bash tests/bench/scripting-vs-redis.sh
#
# Two scripts, loaded with SCRIPT LOAD and called with EVALSHA (the way libraries call them):
#
#   incr     local n = redis.call('incr', KEYS[1]); redis.call('expire', KEYS[1], ARGV[1]);
#            return n                                   (a counter with a lifetime)
#   bucket   the token-bucket rate limiter of tests/integration/test_scripting.py (two HGETs,
#            an HSET of two fields, an EXPIRE, a two-element table returned)
#
# 1. Throughput: redis-benchmark with the EVALSHA command line (keys and the bucket's clock are
#    __rand_int__ over KEYSPACE), CLIENTS connections, pipelines 1 and 16; both servers
#    (memkv and Debian's redis-server, no persistence, free loopback ports) in the same
#    invocation, ROUNDS rounds interleaved memkv/redis/memkv/redis…; medians and memkv/redis.
# 2. Instructions per call (valgrind --tool=callgrind): each server started under callgrind
#    (memkv --hz 1, redis CONFIG SET hz 1), both scripts loaded, CG_REQUESTS calls fed through
#    one redis-cli --pipe file, shut down; minus an idle run (start, load, PING, shutdown);
#    divided by CG_REQUESTS. Then the functions where memkv spends more than redis per call.
#
# Results go to stdout and tests/bench/results/scripting-vs-redis-<date>.txt (gitignored).
#
# Environment:
#   ROUNDS=5            interleaved rounds (median taken)
#   REQUESTS=100000     EVALSHA calls per redis-benchmark run
#   KEYSPACE=10000      distinct keys
#   CLIENTS=50          redis-benchmark connections
#   CG_REQUESTS=20000   calls per callgrind run (0: no callgrind part)
#   TOP=8               functions listed
#   MEMKV_SERVER=path   use this binary instead of building build-bench (Release)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"

ROUNDS=${ROUNDS:-5}
REQUESTS=${REQUESTS:-100000}
KEYSPACE=${KEYSPACE:-10000}
CG_REQUESTS=${CG_REQUESTS:-20000}
TOP=${TOP:-8}

BENCH_NAME=scripting-vs-redis
# shellcheck source=tests/bench/lib.sh
. "$REPO/tests/bench/lib.sh"

if [ -n "${MEMKV_SERVER:-}" ]; then NO_BUILD=1; fi
need_tools
use_memkv MEMKV MEMKV_SERVER build-bench

bench_init

# The two scripts; their SHA1s are the same on both servers (checked after SCRIPT LOAD).
INCR_SCRIPT="local n = redis.call('incr', KEYS[1])
redis.call('expire', KEYS[1], ARGV[1])
return n"
BUCKET_SCRIPT='local key = KEYS[1]
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local requested = tonumber(ARGV[4])
local fill_time = capacity / rate
local ttl = math.floor(fill_time * 2)
local last_tokens = tonumber(redis.call("hget", key, "tokens"))
if last_tokens == nil then last_tokens = capacity end
local last_refreshed = tonumber(redis.call("hget", key, "ts"))
if last_refreshed == nil then last_refreshed = 0 end
local delta = math.max(0, now - last_refreshed)
local filled = math.min(capacity, last_tokens + (delta * rate))
local allowed = filled >= requested
local new_tokens = filled
if allowed then new_tokens = filled - requested end
redis.call("hset", key, "tokens", new_tokens, "ts", now)
redis.call("expire", key, ttl)
return { allowed and 1 or 0, new_tokens }'
declare -A SHA
SHA[incr]=$(printf '%s' "$INCR_SCRIPT" | sha1sum | cut -c1-40)
SHA[bucket]=$(printf '%s' "$BUCKET_SCRIPT" | sha1sum | cut -c1-40)
declare -A TITLE=([incr]="INCR+EXPIRE" [bucket]="token bucket")
SCRIPTS=(incr bucket)

# load_scripts PORT: SCRIPT LOAD both, checking the digests.
load_scripts() {
    local s got
    for s in "${SCRIPTS[@]}"; do
        if [ "$s" = incr ]; then got=$(redis-cli -p "$1" script load "$INCR_SCRIPT"); else got=$(redis-cli -p "$1" script load "$BUCKET_SCRIPT"); fi
        [ "$got" = "${SHA[$s]}" ] || die "SCRIPT LOAD $s on port $1: $got, expected ${SHA[$s]}"
    done
}

# script_args NAME: the EVALSHA command line redis-benchmark sends.
script_args() {
    case $1 in
    incr) echo "evalsha ${SHA[incr]} 1 ctr:__rand_int__ 60" ;;
    bucket) echo "evalsha ${SHA[bucket]} 1 rl:__rand_int__ 10 100 __rand_int__ 1" ;;
    esac
}

# bench_script PORT NAME PIPELINE -> calls per second
bench_script() {
    local out rps args
    read -r -a args <<<"$(script_args "$2")"
    out=$(timeout 600 redis-benchmark -p "$1" -n "$REQUESTS" -c "$CLIENTS" -P "$3" -r "$KEYSPACE" -q --csv "${args[@]}" 2>&1) ||
        die "redis-benchmark $2 -P $3 failed: $out"
    rps=$(awk -F'"' 'NR == 2 {print $4}' <<<"$out")
    [ -n "$rps" ] || die "no rps in redis-benchmark output: $out"
    echo "$rps"
}

say "Lua scripting (EVALSHA), memkv vs Redis — $(date '+%Y-%m-%d %H:%M:%S %z')"
say "memkv:  ${MEMKV#"$REPO"/} (commit $(memkv_commit))"
say "redis:  $(redis-server --version)"
say "tools:  $(redis-cli --version), $(valgrind --version)"
say "host:   $(nproc) cores, $(uname -sr); ROUNDS=$ROUNDS REQUESTS=$REQUESTS KEYSPACE=$KEYSPACE CLIENTS=$CLIENTS CG_REQUESTS=$CG_REQUESTS"
say "Note: 2 shared cores, noisy: medians of interleaved rounds, indicative only."
say ""

# ---- 1. throughput ----------------------------------------------------------------------------
start_server memkv plain
MK_PORT=$SRV_PORT MK_PID=$SRV_PID
start_server redis plain
RD_PORT=$SRV_PORT RD_PID=$SRV_PID
load_scripts "$MK_PORT"
load_scripts "$RD_PORT"
# The same replies from both before measuring (fresh keys, fixed clock).
for s in "${SCRIPTS[@]}"; do
    for port in "$MK_PORT" "$RD_PORT"; do
        if [ "$s" = incr ]; then
            redis-cli -p "$port" evalsha "${SHA[$s]}" 1 "check:$s" 60 | tr -d '\r' | tr '\n' ' '
        else
            redis-cli -p "$port" evalsha "${SHA[$s]}" 1 "check:$s" 10 100 5 1 | tr -d '\r' | tr '\n' ' '
        fi
        echo
    done | uniq | wc -l | grep -qx 1 || die "the $s script answers differently on memkv and redis"
done

PIPES=(1 16)
declare -A RES
for r in $(seq 1 "$ROUNDS"); do
    for s in "${SCRIPTS[@]}"; do
        for p in "${PIPES[@]}"; do
            for kind in memkv redis; do
                if [ "$kind" = memkv ]; then port=$MK_PORT; else port=$RD_PORT; fi
                rate=$(bench_script "$port" "$s" "$p")
                RES[$kind.$s.$p]="${RES[$kind.$s.$p]:-} $rate"
                log "round $r/$ROUNDS $s P$p: $kind $rate calls/s"
            done
        done
    done
done
for port in "$MK_PORT" "$RD_PORT"; do
    [ "$(dbsize "$port")" -gt 0 ] || die "no keys written on port $port"
done
stop_server "$MK_PID" "$MK_PORT"
stop_server "$RD_PID" "$RD_PORT"

say "== redis-benchmark EVALSHA, $REQUESTS calls per run, $CLIENTS clients, median of $ROUNDS interleaved rounds (calls/s)"
say "$(printf '%-18s %12s %12s %8s  %-16s  %-23s %-23s' script memkv redis ratio verdict 'memkv min..max' 'redis min..max')"
for s in "${SCRIPTS[@]}"; do
    for p in "${PIPES[@]}"; do
        read -r -a xs <<<"${RES[memkv.$s.$p]}"
        read -r -a ys <<<"${RES[redis.$s.$p]}"
        a=$(median "${xs[@]}")
        b=$(median "${ys[@]}")
        rt=$(ratio "$a" "$b")
        say "$(printf '%-18s %12s %12s %8s  %-16s  %-23s %-23s' "${TITLE[$s]} P$p" "$a" "$b" "$rt" \
            "$(verdict "$rt" higher)" "$(minof "${xs[@]}")..$(maxof "${xs[@]}")" "$(minof "${ys[@]}")..$(maxof "${ys[@]}")")"
    done
done
say "(ratio = memkv/redis, higher is better for memkv; target >= 1.0)"
say ""

# ---- 2. callgrind -----------------------------------------------------------------------------
if [ "$CG_REQUESTS" -gt 0 ]; then
    CG=$TMP/callgrind
    mkdir -p "$CG"
    SERVER_ARGS[memkv]="--hz 1"
    # The load files: CG_REQUESTS calls each, keys and clock as redis-benchmark makes them.
    "$PY" - "$TMP" "$CG_REQUESTS" "$KEYSPACE" "${SHA[incr]}" "${SHA[bucket]}" <<'EOF'
import sys
tmp, n, keyspace, sha_incr, sha_bucket = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
def enc(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)
def rnd(i):
    return b"%012d" % (i * 7919 % keyspace)
with open(tmp + "/load.incr.resp", "wb") as f:
    f.write(b"".join(enc(b"EVALSHA", sha_incr, 1, b"ctr:" + rnd(i), 60) for i in range(n)))
with open(tmp + "/load.bucket.resp", "wb") as f:
    f.write(b"".join(enc(b"EVALSHA", sha_bucket, 1, b"rl:" + rnd(i), 10, 100, rnd(i * 31), 1)
                     for i in range(n)))
EOF
    PRELOAD=$TMP/preload.resp
    make_pipe "$PRELOAD" "$KEYSPACE" "pre:%012d"
    cg_started() {
        [ "$1" != redis ] || redis-cli -p "$2" config set hz 1 >/dev/null
        load_scripts "$2"
    }
    cg_pipe_load() { load_pipe "$1" "$TMP/load.$2.resp" "$CG_REQUESTS"; }
    for k in memkv redis; do
        cg_run "$k" idle
        CG_LOAD=cg_pipe_load
        for s in "${SCRIPTS[@]}"; do cg_run "$k" "$s" "$s"; done
        unset CG_LOAD
    done
    say "== callgrind: instructions (Ir) per EVALSHA call, (run - idle run) / $CG_REQUESTS, redis-cli --pipe (one connection)"
    say "$(printf '%-14s %12s %12s %8s' script 'memkv Ir' 'redis Ir' 'ratio')"
    for s in "${SCRIPTS[@]}"; do
        a=$(cg_per_req memkv "$s")
        b=$(cg_per_req redis "$s")
        say "$(printf '%-14s %12.0f %12.0f %8s' "${TITLE[$s]}" "$a" "$b" "$(ratio "$a" "$b")")"
    done
    say "(ratio = memkv/redis instructions, lower is better for memkv)"
    say ""
    for s in "${SCRIPTS[@]}"; do
        cg_delta "$CG/callgrind.memkv.$s.out" "$CG/callgrind.memkv.idle.out" >"$CG/delta.memkv.$s"
        say "== memkv ${TITLE[$s]}: the $TOP functions with the most self Ir per call"
        cg_top "$TOP" $((${IR[memkv.$s]} - ${IR[memkv.idle]})) "$CG/delta.memkv.$s" | tee -a "$REPORT"
        say ""
    done
    for s in "${SCRIPTS[@]}"; do cg_diff memkv redis "$s" idle "$CG_REQUESTS" "${TITLE[$s]}"; done
fi
bench_finish
