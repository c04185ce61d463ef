#!/usr/bin/env bash
# memkv vs Redis for the collection types (issue P7, "Benchmark"). Not a test.
#
#   bash tests/bench/types-vs-redis.sh
#
# Starts its own memkv-server and redis-server (Debian's) on free loopback ports and measures:
#   1. memory per key for data shapes real applications have, each loaded with redis-cli
#      --pipe into a fresh server of each kind: used_memory (INFO) and VmRSS minus the empty
#      server, per key (per member for the one big sorted set), and OBJECT ENCODING of a key;
#   2. throughput of HSET HGETALL LPUSH LPOP SADD SISMEMBER ZADD ZRANGE, PFADD (into sparse
#      HyperLogLogs), PFCOUNT of two sketches (a union: every register), SORT of a set of 50
#      numbers, GEOADD of random positions and GEOSEARCH (30 km around Palermo, sorted, with
#      distances, in sets of 50 places) under redis-benchmark (-c 50, -P 1 and -P 16), ROUNDS
#      rounds interleaved memkv/redis, medians and ranges;
#   3. user-space instructions per request (callgrind) for the same loads at -P 16, each in a
#      run of its own minus an idle run.
# Results go to stdout and tests/bench/results/types-vs-redis-<date>.txt (gitignored).
#
# Environment:
#   ROUNDS=5 REQUESTS=200000 KEYSPACE=10000 CG_REQUESTS=100000 CG_KEYSPACE=2000
#   SCALE=1        divides the key counts of the memory shapes (SCALE=10: a quick look)
#   MEMKV_SERVER=path   use this binary instead of building build-bench (Release)
#   SKIP_MEMORY=1 / SKIP_THROUGHPUT=1 / SKIP_CALLGRIND=1
#   SHAPES="hash10 list100 ..."  only these memory shapes
#   ONLY_LOADS="GEOADD GEOSEARCH ..."  only these loads (parts 2 and 3)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"

ROUNDS=${ROUNDS:-5}
REQUESTS=${REQUESTS:-200000}
KEYSPACE=${KEYSPACE:-10000}
CG_REQUESTS=${CG_REQUESTS:-100000}
CG_KEYSPACE=${CG_KEYSPACE:-2000}
SCALE=${SCALE:-1}
SKIP_MEMORY=${SKIP_MEMORY:-0}
SKIP_THROUGHPUT=${SKIP_THROUGHPUT:-0}
SKIP_CALLGRIND=${SKIP_CALLGRIND:-0}

BENCH_NAME=types-vs-redis
# shellcheck source=tests/bench/lib.sh
. "$REPO/tests/bench/lib.sh"

if [ -n "${MEMKV_SERVER:-}" ]; then NO_BUILD=1; fi
need_tools
use_memkv MEMKV MEMKV_SERVER build-bench
bench_init

# gen_shape SHAPE FILE -> "KEYS UNITS COMMANDS KEY" (units: what the per-unit figure divides
# by; KEY: one key to ask OBJECT ENCODING). Writes the RESP commands that build the shape.
gen_shape() { "$PY" "$REPO/tests/bench/gen_types.py" shape "$1" "$2" "$SCALE"; }

T0=$(date +%s)
say "memkv vs Redis, collection types — $(date '+%Y-%m-%d %H:%M:%S %z')"
say "memkv:  $MEMKV (commit $(memkv_commit))"
say "redis:  $(redis-server --version)"
say "host:   $(nproc) cores, $(uname -sr); ROUNDS=$ROUNDS REQUESTS=$REQUESTS KEYSPACE=$KEYSPACE SCALE=$SCALE"
say ""

# ---------------------------------------------------------------------------------------------
# 1. Memory per shape
if [ "$SKIP_MEMORY" != 1 ]; then
    read -r -a shapes <<<"${SHAPES:-hash10 list100 setint50 setstr50 zset50 zsetbig}"
    say "== Memory: each shape loaded into a fresh server with redis-cli --pipe, minus the empty server"
    say "$(printf '%-10s %9s %-9s %11s %11s %7s %11s %11s %7s  %-22s %s' shape keys per \
        'memkv used' 'redis used' ratio 'memkv rss' 'redis rss' ratio 'encoding memkv/redis' target)"
    for shape in "${shapes[@]}"; do
        f=$TMP/$shape.resp
        read -r keys units ncmds key <<<"$(gen_shape "$shape" "$f")"
        declare -A M=()
        for kind in memkv redis; do
            start_server "$kind" plain
            sleep 0.5
            M[$kind.used0]=$(used_memory "$SRV_PORT")
            M[$kind.rss0]=$(rss_bytes "$SRV_PID")
            log "memory: $shape into $kind ($ncmds commands)"
            load_pipe "$SRV_PORT" "$f" "$ncmds"
            [ "$(dbsize "$SRV_PORT")" = "$keys" ] || die "$kind: DBSIZE $(dbsize "$SRV_PORT") != $keys"
            sleep 1 # incremental rehashes finish in the cron
            M[$kind.used1]=$(used_memory "$SRV_PORT")
            M[$kind.rss1]=$(rss_bytes "$SRV_PID")
            M[$kind.enc]=$(redis-cli -p "$SRV_PORT" object encoding "$key" | tr -d '\r')
            stop_server "$SRV_PID" "$SRV_PORT"
        done
        rm -f "$f"
        per() { awk -v a="$1" -v b="$2" -v n="$units" 'BEGIN {printf "%.1f", (a - b) / n}'; }
        mu=$(per "${M[memkv.used1]}" "${M[memkv.used0]}") ru=$(per "${M[redis.used1]}" "${M[redis.used0]}")
        mr=$(per "${M[memkv.rss1]}" "${M[memkv.rss0]}") rr=$(per "${M[redis.rss1]}" "${M[redis.rss0]}")
        qu=$(ratio "$mu" "$ru") qr=$(ratio "$mr" "$rr")
        [ "$shape" = zsetbig ] && unit=member || unit=key
        say "$(printf '%-10s %9s %-9s %11s %11s %7s %11s %11s %7s  %-22s %s' "$shape" "$keys" "$unit" \
            "$mu" "$ru" "$qu" "$mr" "$rr" "$qr" "${M[memkv.enc]}/${M[redis.enc]}" "$(verdict "$qu" lower)")"
    done
    say "(bytes per key or member; ratio = memkv/redis, lower is better; the issue aims at 0.8 for"
    say " small collections. hash10: 1M hashes of 10 fields; list100: 100k lists of 100 items;"
    say " setint50/setstr50: 100k sets of 50 integers/strings; zset50: 100k sorted sets of 50;"
    say " zsetbig: one sorted set of 1M members, per member. Counts divided by SCALE.)"
    say ""
fi

# ---------------------------------------------------------------------------------------------
# Loads: name, then the redis-benchmark command (keys spread by -r over KEYSPACE), and a
# preload that gives the read loads something to read (KEYSPACE keys of each type).
declare -A LOAD_CMD=(
    [HSET]="HSET h:__rand_int__ f:__rand_int__ v"
    [HGETALL]="HGETALL hp:__rand_int__"
    [LPUSH]="LPUSH l:__rand_int__ item"
    [LPOP]="LPOP lp:__rand_int__"
    [SADD]="SADD s:__rand_int__ __rand_int__"
    [SISMEMBER]="SISMEMBER sp:__rand_int__ __rand_int__"
    [ZADD]="ZADD z:__rand_int__ __rand_int__ m:__rand_int__"
    [ZRANGE]="ZRANGE zp:__rand_int__ 0 9 WITHSCORES"
    [PFADD]="PFADD hllp:__rand_int__ e:__rand_int__"
    [PFCOUNT2]="PFCOUNT hllp:__rand_int__ hllp:000000000000"
    [SORT]="SORT sp:__rand_int__"
    [GEOADD]="GEOADD g:__rand_int__ 13.__rand_int__ 38.__rand_int__ m:__rand_int__"
    [GEOSEARCH]="GEOSEARCH gp:__rand_int__ FROMLONLAT 13.361389 38.115556 BYRADIUS 30 km ASC WITHDIST"
)
read -r -a TYPE_LOADS <<<"${ONLY_LOADS:-HSET HGETALL LPUSH LPOP SADD SISMEMBER ZADD ZRANGE PFADD PFCOUNT2 SORT GEOADD GEOSEARCH}"

# Preload: KEYSPACE keys "hp:%012d" (10-field hash), "lp:" (list of 1000 items, enough for
# every LPOP of a run), "sp:" (set of 50 numbers), "zp:" (sorted set of 50), "hllp:" (sparse
# HyperLogLog of 100 elements), "gp:" (50 places around Palermo).
PRELOAD=$TMP/types-preload.resp
"$PY" "$REPO/tests/bench/gen_types.py" preload "$PRELOAD" "$KEYSPACE"
PRELOAD_N=$((KEYSPACE * 6))
RANGE=$KEYSPACE # -r of every load

# tbench PORT LOAD PIPELINE N -> ops/s
tbench() {
    local out rps cmd
    read -r -a cmd <<<"${LOAD_CMD[$2]}"
    out=$(timeout 600 redis-benchmark -p "$1" -n "$4" -c "$CLIENTS" -P "$3" -r "$RANGE" -q --csv "${cmd[@]}" 2>&1) ||
        die "redis-benchmark $2 -P $3 failed: $out"
    rps=$(awk -F'"' 'NF > 3 && $4 ~ /^[0-9.]+$/ {print $4; exit}' <<<"$out")
    [ -n "$rps" ] || die "no rps in redis-benchmark output: $out"
    echo "$rps"
}

# ---------------------------------------------------------------------------------------------
# 2. Throughput
if [ "$SKIP_THROUGHPUT" != 1 ]; then
    start_server memkv plain
    MK_PID=$SRV_PID MK_PORT=$SRV_PORT
    start_server redis plain
    RD_PID=$SRV_PID RD_PORT=$SRV_PORT
    log "throughput: preloading $PRELOAD_N collections into each"
    load_pipe "$MK_PORT" "$PRELOAD" "$PRELOAD_N"
    load_pipe "$RD_PORT" "$PRELOAD" "$PRELOAD_N"
    declare -A TP_MK TP_RD
    for r in $(seq 1 "$ROUNDS"); do
        for l in "${TYPE_LOADS[@]}"; do
            for p in 1 16; do
                mk=$(tbench "$MK_PORT" "$l" "$p" "$REQUESTS")
                rd=$(tbench "$RD_PORT" "$l" "$p" "$REQUESTS")
                TP_MK[$l.$p]="${TP_MK[$l.$p]:-} $mk"
                TP_RD[$l.$p]="${TP_RD[$l.$p]:-} $rd"
                log "round $r/$ROUNDS $l P$p: memkv $(fmt0 "$mk")  redis $(fmt0 "$rd") ops/s"
            done
        done
    done
    stop_server "$MK_PID" "$MK_PORT"
    stop_server "$RD_PID" "$RD_PORT"
    say "== Throughput: redis-benchmark -c $CLIENTS -n $REQUESTS -r $KEYSPACE, median of $ROUNDS interleaved rounds"
    say "$(printf '%-14s %12s %12s %8s  %-18s  %-23s %-23s' load 'memkv ops/s' 'redis ops/s' ratio target 'memkv min..max' 'redis min..max')"
    for l in "${TYPE_LOADS[@]}"; do
        for p in 1 16; do
            read -r -a xs <<<"${TP_MK[$l.$p]}"
            read -r -a ys <<<"${TP_RD[$l.$p]}"
            m1=$(median "${xs[@]}") m2=$(median "${ys[@]}")
            q=$(ratio "$m1" "$m2")
            say "$(printf '%-14s %12s %12s %8s  %-18s  %-23s %-23s' "$l P$p" "$(fmt0 "$m1")" "$(fmt0 "$m2")" "$q" \
                "$(verdict "$q" higher)" "$(fmt0 "$(minof "${xs[@]}")")..$(fmt0 "$(maxof "${xs[@]}")")" \
                "$(fmt0 "$(minof "${ys[@]}")")..$(fmt0 "$(maxof "${ys[@]}")")")"
        done
    done
    for l in "${TYPE_LOADS[@]}"; do say "  $l: ${LOAD_CMD[$l]}"; done
    say "(ratio = memkv/redis, higher is better)"
    say ""
fi

# ---------------------------------------------------------------------------------------------
# 3. Instructions per request: each load at -P 16 in its own callgrind run, minus an idle run
# (start, preload, PING, shutdown). Uses lib.sh's cg_run with our preload and load.
if [ "$SKIP_CALLGRIND" != 1 ]; then
    CG=$TMP/callgrind
    mkdir -p "$CG"
    types_cg_load() { tbench "$1" "$2" 16 "$CG_REQUESTS"; }
    CG_LOAD=types_cg_load
    # A small preload (CG_KEYSPACE keys of each type, lists of 100): the idle run subtracts
    # it, and a big one would bury the loads' instructions in its run-to-run variation.
    PRELOAD=$TMP/types-preload-cg.resp
    "$PY" "$REPO/tests/bench/gen_types.py" preload "$PRELOAD" "$CG_KEYSPACE" 100
    PRELOAD_N=$((CG_KEYSPACE * 6)) # what cg_run's preload expects in replies
    RANGE=$CG_KEYSPACE
    for kind in memkv redis; do
        cg_run "$kind" idle
        for l in "${TYPE_LOADS[@]}"; do
            cg_run "$kind" "$l" "$l"
        done
    done
    say "== Instructions per request (callgrind, user space; -P 16, $CG_REQUESTS requests over $CG_KEYSPACE keys of each type, minus an idle run)"
    say "$(printf '%-10s %12s %12s %8s  %s' load 'memkv Ir/req' 'redis Ir/req' ratio target)"
    for l in "${TYPE_LOADS[@]}"; do
        a=$(cg_per_req memkv "$l")
        b=$(cg_per_req redis "$l")
        q=$(ratio "$a" "$b")
        say "$(printf '%-10s %12s %12s %8s  %s' "$l" "$(fmt0 "$a")" "$(fmt0 "$b")" "$q" "$(verdict "$q" lower)")"
    done
    say ""
fi

say "total time: $(($(date +%s) - T0)) s"
bench_finish
