#!/usr/bin/env bash
# memkv vs Redis benchmark (issue 2, "Benchmark"). Not a test: performance claims come from here.
#
#   bash tests/bench/vs-redis.sh
#
# Starts its own memkv-server and redis-server (Debian's) on free loopback ports, no
# persistence, never a system service, and measures:
#   1. throughput: redis-benchmark SET and GET, -c 50, -P 1 and -P 16, 200k requests, random
#      keys over a preloaded key space of 100k keys; ROUNDS rounds interleaved
#      memkv/redis/memkv/redis…, median ops/s per server and the memkv/redis ratio;
#   2. memory: exactly 1,000,000 distinct keys "key:%07d" = "xxx" loaded with redis-cli --pipe
#      into a fresh server; used_memory (INFO memory) and VmRSS minus the empty-server figures;
#   3. user-space instructions per request (Ir, valgrind --tool=callgrind): one run per load
#      and per server, minus an idle baseline run, divided by the requests of the load. This is
#      the figure that does not move with the noise of the machine.
# Results go to stdout and to tests/bench/results/vs-redis-<date>.txt (gitignored).
#
# Environment:
#   ROUNDS=5            throughput rounds (interleaved; median taken)
#   REQUESTS=200000     requests per redis-benchmark throughput run
#   KEYSPACE=100000     -r for redis-benchmark, and the keys preloaded before the loads
#   MEM_KEYS=1000000    keys loaded for the memory figure
#   CG_REQUESTS=100000  requests per load under callgrind
#   MEMKV_SERVER=path   use this binary instead of building build-bench (Release)
#   SKIP_THROUGHPUT=1 / SKIP_MEMORY=1 / SKIP_CALLGRIND=1   skip a part
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"

ROUNDS=${ROUNDS:-5}
REQUESTS=${REQUESTS:-200000}
KEYSPACE=${KEYSPACE:-100000}
MEM_KEYS=${MEM_KEYS:-1000000}
CG_REQUESTS=${CG_REQUESTS:-100000}
SKIP_THROUGHPUT=${SKIP_THROUGHPUT:-0}
SKIP_MEMORY=${SKIP_MEMORY:-0}
SKIP_CALLGRIND=${SKIP_CALLGRIND:-0}

BENCH_NAME=vs-redis
# shellcheck source=tests/bench/lib.sh
. "$REPO/tests/bench/lib.sh"

if [ -n "${MEMKV_SERVER:-}" ]; then NO_BUILD=1; fi
need_tools

# ---------------------------------------------------------------------------------------------
# Build memkv (Release) unless a binary is given.
use_memkv MEMKV MEMKV_SERVER build-bench -DMEMKV_ACCOUNTING=ON

bench_init
CG_KEEP=$RESULTS_DIR/vs-redis-$STAMP-callgrind

# ---------------------------------------------------------------------------------------------
T0=$(date +%s)
MEMKV_COMMIT=$(memkv_commit)
say "memkv vs Redis — $(date '+%Y-%m-%d %H:%M:%S %z')"
say "memkv:  $MEMKV (commit $MEMKV_COMMIT)"
say "redis:  $(redis-server --version)"
say "tools:  $(redis-benchmark --version 2>/dev/null | head -n 1), $(valgrind --version)"
say "host:   $(nproc) cores, $(uname -sr); ROUNDS=$ROUNDS REQUESTS=$REQUESTS KEYSPACE=$KEYSPACE"
say ""
say "Note: this machine has 2 cores shared by server and client and is noisy (±20% between"
say "runs), so ops/s are medians of interleaved rounds and still only indicative. The callgrind"
say "figure (user-space instructions per request) is the stable one."
say ""

# Key space shared by the loads: redis-benchmark -r N uses keys "key:%012d" below N, value "xxx".
PRELOAD=$TMP/preload.resp
make_pipe "$PRELOAD" "$KEYSPACE" "key:%012d"

# ---------------------------------------------------------------------------------------------
# 1. Throughput
if [ "$SKIP_THROUGHPUT" != 1 ]; then
    log "throughput: starting memkv and redis, preloading $KEYSPACE keys into each"
    start_server memkv plain
    MK_PID=$SRV_PID MK_PORT=$SRV_PORT
    start_server redis plain
    RD_PID=$SRV_PID RD_PORT=$SRV_PORT
    load_pipe "$MK_PORT" "$PRELOAD" "$KEYSPACE"
    load_pipe "$RD_PORT" "$PRELOAD" "$KEYSPACE"
    declare -A TP_MK TP_RD
    for r in $(seq 1 "$ROUNDS"); do
        for l in "${LOADS[@]}"; do
            t=${l%% *} p=${l##* }
            mk=$(bench "$MK_PORT" "$t" "$p" "$REQUESTS")
            rd=$(bench "$RD_PORT" "$t" "$p" "$REQUESTS")
            TP_MK[$l]="${TP_MK[$l]:-} $mk"
            TP_RD[$l]="${TP_RD[$l]:-} $rd"
            log "round $r/$ROUNDS $(load_name "$l"): memkv $(fmt0 "$mk")  redis $(fmt0 "$rd") ops/s"
        done
    done
    [ "$(dbsize "$MK_PORT")" = "$KEYSPACE" ] || log "warning: memkv DBSIZE $(dbsize "$MK_PORT") != $KEYSPACE"
    [ "$(dbsize "$RD_PORT")" = "$KEYSPACE" ] || log "warning: redis DBSIZE $(dbsize "$RD_PORT") != $KEYSPACE"
    stop_server "$MK_PID" "$MK_PORT"
    stop_server "$RD_PID" "$RD_PORT"

    say "== Throughput: redis-benchmark -c $CLIENTS -n $REQUESTS -r $KEYSPACE (keys preloaded), median of $ROUNDS interleaved rounds"
    say "$(printf '%-8s %12s %12s %8s  %-18s  %-23s %-23s' load 'memkv ops/s' 'redis ops/s' ratio target 'memkv min..max' 'redis min..max')"
    for l in "${LOADS[@]}"; do
        read -r -a xs <<<"${TP_MK[$l]}"
        read -r -a ys <<<"${TP_RD[$l]}"
        m1=$(median "${xs[@]}") m2=$(median "${ys[@]}")
        q=$(ratio "$m1" "$m2")
        say "$(printf '%-8s %12s %12s %8s  %-18s  %-23s %-23s' "$(load_name "$l")" "$(fmt0 "$m1")" "$(fmt0 "$m2")" "$q" \
            "$(verdict "$q" higher)" "$(fmt0 "$(minof "${xs[@]}")")..$(fmt0 "$(maxof "${xs[@]}")")" \
            "$(fmt0 "$(minof "${ys[@]}")")..$(fmt0 "$(maxof "${ys[@]}")")")"
    done
    say "(ratio = memkv/redis, higher is better for memkv; differences under ~20% are within this machine's noise)"
    say ""
fi

# ---------------------------------------------------------------------------------------------
# 2. Memory after loading MEM_KEYS distinct keys
if [ "$SKIP_MEMORY" != 1 ]; then
    log "memory: generating $MEM_KEYS keys"
    MEMPIPE=$TMP/mem.resp
    make_pipe "$MEMPIPE" "$MEM_KEYS" "key:%07d"
    declare -A MEM
    for kind in memkv redis; do
        start_server "$kind" plain
        sleep 0.5
        MEM[$kind.used0]=$(used_memory "$SRV_PORT")
        MEM[$kind.rss0]=$(rss_bytes "$SRV_PID")
        log "memory: loading $MEM_KEYS keys into $kind"
        load_pipe "$SRV_PORT" "$MEMPIPE" "$MEM_KEYS"
        n=$(dbsize "$SRV_PORT")
        [ "$n" = "$MEM_KEYS" ] || die "$kind DBSIZE is $n, expected $MEM_KEYS"
        sleep 1 # let an incremental rehash finish its cron steps
        MEM[$kind.used1]=$(used_memory "$SRV_PORT")
        MEM[$kind.rss1]=$(rss_bytes "$SRV_PID")
        MEM[$kind.dbsize]=$n
        stop_server "$SRV_PID" "$SRV_PORT"
    done
    rm -f "$MEMPIPE"
    say "== Memory: $MEM_KEYS distinct keys \"key:%07d\" = \"xxx\" via redis-cli --pipe, minus the empty server"
    say "$(printf '%-24s %14s %14s %8s  %s' '' memkv redis ratio target)"
    for k in used rss; do
        [ "$k" = used ] && label="used_memory" || label="VmRSS"
        d1=$((${MEM[memkv.${k}1]} - ${MEM[memkv.${k}0]}))
        d2=$((${MEM[redis.${k}1]} - ${MEM[redis.${k}0]}))
        b1=$(awk -v d="$d1" -v n="$MEM_KEYS" 'BEGIN {print d / n}')
        b2=$(awk -v d="$d2" -v n="$MEM_KEYS" 'BEGIN {print d / n}')
        q=$(ratio "$b1" "$b2")
        say "$(printf '%-24s %14s %14s' "$label empty (bytes)" "${MEM[memkv.${k}0]}" "${MEM[redis.${k}0]}")"
        say "$(printf '%-24s %14s %14s' "$label loaded (bytes)" "${MEM[memkv.${k}1]}" "${MEM[redis.${k}1]}")"
        say "$(printf '%-24s %14s %14s %8s  %s' "$label bytes/key" "$(fmt1 "$b1")" "$(fmt1 "$b2")" "$q" "$(verdict "$q" lower)")"
    done
    say "$(printf '%-24s %14s %14s' DBSIZE "${MEM[memkv.dbsize]}" "${MEM[redis.dbsize]}")"
    say "(ratio = memkv/redis, lower is better for memkv; used_memory is each server's own allocator count)"
    say ""
fi

# ---------------------------------------------------------------------------------------------
# 3. Instructions per request under callgrind
if [ "$SKIP_CALLGRIND" != 1 ]; then
    CG=$TMP/callgrind
    mkdir -p "$CG"
    for kind in memkv redis; do
        log "callgrind: $kind"
        cg_run "$kind" idle
        for l in "${LOADS[@]}"; do
            t=${l%% *} p=${l##* }
            cg_run "$kind" "$t-P$p" "$t" "$p"
        done
    done
    say "== Instructions per request (user space, valgrind --tool=callgrind, Ir)"
    say "   each load in its own run: start, preload $KEYSPACE keys, redis-benchmark -n $CG_REQUESTS -c $CLIENTS -r $KEYSPACE,"
    say "   shutdown; minus an idle run (start, preload, PING, shutdown); divided by $CG_REQUESTS"
    say "$(printf '%-8s %12s %12s %8s  %s' load 'memkv Ir/req' 'redis Ir/req' ratio target)"
    for l in "${LOADS[@]}"; do
        t=${l%% *} p=${l##* }
        a=$(cg_per_req memkv "$t-P$p")
        b=$(cg_per_req redis "$t-P$p")
        q=$(ratio "$a" "$b")
        say "$(printf '%-8s %12s %12s %8s  %s' "$(load_name "$l")" "$(fmt0 "$a")" "$(fmt0 "$b")" "$q" "$(verdict "$q" lower)")"
    done
    say "$(printf '%-8s %12s %12s' 'idle Ir' "${IR[memkv.idle]}" "${IR[redis.idle]}")"
    say "(ratio = memkv/redis, lower is better for memkv; deterministic to within ~1%: cron ticks during"
    say " the run and redis-benchmark's random keys are the only variation)"
    say ""

    # Where memkv's instructions go: per function, load run minus idle run, per request.
    mkdir -p "$CG_KEEP"
    cp "$CG"/callgrind.*.out "$CG_KEEP"/
    for l in "${LOADS[@]}"; do
        t=${l%% *} p=${l##* }
        total=$((${IR[memkv.$t-P$p]} - ${IR[memkv.idle]}))
        say "== memkv top 15 functions, $(load_name "$l"): self Ir per request (load run minus idle run)"
        cg_delta "$CG/callgrind.memkv.$t-P$p.out" "$CG/callgrind.memkv.idle.out" >"$CG/delta"
        cg_top 15 "$total" "$CG/delta" | tee -a "$REPORT"
        say ""
    done
    say "callgrind outputs kept in ${CG_KEEP#"$REPO"/}/"
fi

say "total time: $(($(date +%s) - T0)) s"
bench_finish
