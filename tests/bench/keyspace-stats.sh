#!/usr/bin/env bash
# What the key-space statistics cost and what they save (issue 13, "Benchmark"). Not a test:
# a benchmark run by hand; it prints figures and ratios, and checks nothing but that the loads
# did what they say.
#
#   bash tests/bench/keyspace-stats.sh
#   CG_REQUESTS=20000 KEYSPACE=20000 KEYS=200000 bash tests/bench/keyspace-stats.sh   # quicker
#
# One Release build (build-bench), three variants:
#   A  --keyspace-stats no                             (no statistics at all)
#   B  --keyspace-stats yes --keyspace-prefix-max 0    (totals, histograms, TTLs, top keys)
#   C  defaults: statistics and prefixes (keyspace-prefix-max 4096, depth 2)
# B/A is what the statistics without prefixes cost, C/B what prefix tracking adds.
#
# 1. User-space instructions per request (Ir, valgrind --tool=callgrind), one run per load and
#    per variant: start, preload KEYSPACE strings user:<n>:session (64-byte values) and
#    HASHES hashes cart:<n>:items (4 fields), run the load, shutdown; minus an idle run (start,
#    preload, PING, shutdown); divided by CG_REQUESTS. Every load is a redis-cli --pipe file
#    of CG_REQUESTS commands, the same bytes for every variant, so the runs are repeatable:
#      SET new        SET of a new key of the same prefix (the key space grows)
#      SET existing   SET of an existing key, a value of the same size
#      GET            GET of an existing key
#      HGET           HGET of a field of an existing (listpack) hash
#      HSET new field a new field of an existing 4-field (listpack) hash
#      DEL            DEL of an existing key, each key once
#    --pipe is one connection with deep pipelining: the least networking work per request, so
#    the ratios are the largest any client shows (the B-A and C-B columns, Ir per request, hold
#    for any client). With RT_REQUESTS > 0 the same loads run again from a client without
#    pipelining (one request per round trip, as most applications send them): the event loop
#    adds some 550-750 Ir per request there. DEL: the idle run frees
#    the same keys at shutdown, so its row is a DEL beyond the free; SET new: its keys are
#    freed at shutdown (in every variant alike). Debian's redis-server runs the same loads the
#    same way (column redis): C/redis is memkv with every statistic against Redis without any.
#    Targets (issue 13): B/A <= 1.02 on writes and ~1.00 (here <= 1.01) on reads, C/B <= 1.05
#    on writes. For each load, the functions whose self Ir per request grew most from A to C
#    (callgrind_annotate) locate the cost. For line-level detail, build with debug info
#    (cmake -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS=-g), run with MEMKV_SERVER=that binary and
#    read the kept outputs with callgrind_annotate --auto=yes.
# 2. Memory per tracked prefix: a fresh server of variant B and one of C, INFO memory's
#    memkv_subsystem_keyspace_stats before and after PREFIX_KEYS keys under each of P distinct
#    prefixes (P in PREFIX_COUNTS; above keyspace-prefix-max only that many are tracked):
#    bytes per prefix = (growth in C - growth in B) / prefixes tracked. The prefix table grows
#    by doubling (at 3/4 full), so the figure steps with P. Then the same figure at KEYS/100,
#    KEYS/10 and KEYS keys of the mixed key space of part 3 (about 25 prefixes): it should be
#    nearly flat in the number of keys.
# 3. Side by side on KEYS keys (strings of mixed sizes, hashes, lists, sets, sorted sets under
#    about 25 prefixes; the same redis-cli --pipe input for both): Debian's redis-server
#    (--save '' --appendonly no) and memkv (C), each alone on the machine:
#      - a RedisInsight-style analysis (its database analysis: SCAN COUNT 1000 until RI_KEYS
#        keys scanned, then pipelined MEMORY USAGE key SAMPLES 0, TYPE, TTL for each, then
#        each key's length): median of RI_ROUNDS, on both servers;
#      - full redis-cli --memkeys and --bigkeys (every key), on both servers;
#      - MEMORY PREFIXES COUNT 20 and MEMORY TOP-KEYS COUNT 32 on memkv: median of REPEAT
#        calls on one open connection (and the first call apart), then a PING the same way
#        for the round trip alone.
#    Ratios: how many times longer the sampling or the full scan takes than memkv's answer.
#    These are wall-clock times on a shared 2-core machine; only the large ratios mean much.
# Results go to stdout and to tests/bench/results/keyspace-stats-<date>.txt (gitignored); the
# callgrind outputs are kept next to it (keyspace-stats-<date>-callgrind/).
#
# Environment:
#   CG_REQUESTS=100000  requests per load under callgrind (--pipe)
#   RT_REQUESTS=0       requests per load under callgrind one per round trip (0: none; the
#                       cron's share makes these noisy: ±70 Ir per request at 5000)
#   CG_REDIS=1          also run Debian's redis-server on the same loads under callgrind (0: not)
#   KEYSPACE=100000     strings preloaded for the callgrind runs (>= CG_REQUESTS: DEL deletes
#                       CG_REQUESTS of them); HASHES=KEYSPACE/10 hashes
#   CG_LOADS="set-new ... del"  the loads of part 1 to run (default all six)
#   TOP=8               functions listed per load in the per-function difference
#   DIFF_PAIRS="C:A"    variant pairs X:Y for the per-function difference (e.g. "C:A B:A C:B")
#   PREFIX_COUNTS="1000 4000 8000"  distinct prefixes written in part 2; PREFIX_KEYS=3 keys each
#   KEYS=1000000        keys of the side-by-side key space (part 2's flatness and part 3)
#   RI_KEYS=10000 RI_ROUNDS=5  the RedisInsight-style sample size and rounds
#   REPEAT=101          timed calls of MEMORY PREFIXES / MEMORY TOP-KEYS (median)
#   MEMKV_SERVER=path   this memkv-server instead of building build-bench
#   SKIP_CALLGRIND=1 / SKIP_PREFIX_MEMORY=1 / SKIP_SIDE_BY_SIDE=1   skip a part
#   SKIP_FULL_SCANS=1   part 3 without the full --memkeys / --bigkeys scans (the slow part)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"

CG_REQUESTS=${CG_REQUESTS:-100000}
RT_REQUESTS=${RT_REQUESTS:-0}
CG_REDIS=${CG_REDIS:-1}
KEYSPACE=${KEYSPACE:-100000}
HASHES=${HASHES:-$((KEYSPACE / 10))}
TOP=${TOP:-8}
DIFF_PAIRS=${DIFF_PAIRS:-C:A}
PREFIX_COUNTS=${PREFIX_COUNTS:-1000 4000 8000}
PREFIX_KEYS=${PREFIX_KEYS:-3}
KEYS=${KEYS:-1000000}
RI_KEYS=${RI_KEYS:-10000}
RI_ROUNDS=${RI_ROUNDS:-5}
REPEAT=${REPEAT:-101}
SKIP_CALLGRIND=${SKIP_CALLGRIND:-0}
SKIP_PREFIX_MEMORY=${SKIP_PREFIX_MEMORY:-0}
SKIP_SIDE_BY_SIDE=${SKIP_SIDE_BY_SIDE:-0}
SKIP_FULL_SCANS=${SKIP_FULL_SCANS:-0}

BENCH_NAME=keyspace-stats
# shellcheck source=tests/bench/lib.sh
. "$REPO/tests/bench/lib.sh"

[ "$RT_REQUESTS" -le "$KEYSPACE" ] || die "RT_REQUESTS ($RT_REQUESTS) > KEYSPACE ($KEYSPACE): DEL needs a key per request"
[ "$CG_REQUESTS" -le "$KEYSPACE" ] || die "CG_REQUESTS ($CG_REQUESTS) > KEYSPACE ($KEYSPACE): DEL needs a key per request"
[ "$HASHES" -ge 1 ] || die "HASHES must be at least 1"
[ "$KEYS" -ge 100 ] || die "KEYS must be at least 100"

if [ -n "${MEMKV_SERVER:-}" ]; then NO_BUILD=1; fi
need_tools
[ "$SKIP_SIDE_BY_SIDE" = 1 ] || need_packages python3-redis
use_memkv MEMKV MEMKV_SERVER build-bench

# hz 1: the cron's work follows the wall clock, not the requests, and a run under valgrind on a
# busy machine lasts longer than its idle run; at the default 10 Hz that moved a row by up to
# 50 Ir per request at 20000 requests.
SERVER_ARGS[A]="--hz 1 --keyspace-stats no"
SERVER_ARGS[B]="--hz 1 --keyspace-stats yes --keyspace-prefix-max 0"
SERVER_ARGS[C]="--hz 1 --keyspace-stats yes"
VARIANTS=(A B C)
CG_KINDS=(A B C)
[ "$CG_REDIS" = 1 ] && CG_KINDS+=(redis)
declare -A WANT_STATS=([A]=no [B]=yes [C]=yes) WANT_PMAX=([A]=any [B]=0 [C]=4096)

config_get() { redis-cli -p "$1" config get "$2" | tr -d '\r' | sed -n 2p; }

# check_variant KIND PORT: the server is the variant it should be.
check_variant() {
    local kind=$1 port=$2 s m
    s=$(config_get "$port" keyspace-stats)
    m=$(config_get "$port" keyspace-prefix-max)
    [ "$s" = "${WANT_STATS[$kind]}" ] || die "variant $kind: keyspace-stats is '$s', expected ${WANT_STATS[$kind]}"
    [ "${WANT_PMAX[$kind]}" = any ] || [ "$m" = "${WANT_PMAX[$kind]}" ] ||
        die "variant $kind: keyspace-prefix-max is '$m', expected ${WANT_PMAX[$kind]}"
}

# ks PYTHON-HELPER-ARGS...: tests/bench/keyspace_stats.py (inputs and client-side timings)
ks() { "$PY" "$REPO/tests/bench/keyspace_stats.py" "$@"; }

bench_init
CG_KEEP=$RESULTS_DIR/keyspace-stats-$STAMP-callgrind

T0=$(date +%s)
say "memkv: cost and use of the key-space statistics — $(date '+%Y-%m-%d %H:%M:%S %z')"
say "commit: $(memkv_commit)   binary: ${MEMKV#"$REPO"/}"
say "A:      ${SERVER_ARGS[A]}"
say "B:      ${SERVER_ARGS[B]}"
say "C:      ${SERVER_ARGS[C]}   (the defaults: prefixes on, keyspace-prefix-max 4096)"
say "redis:  $(redis-server --version)"
say "tools:  $(redis-cli --version), $(valgrind --version)"
say "host:   $(nproc) cores, $(uname -sr); CG_REQUESTS=$CG_REQUESTS KEYSPACE=$KEYSPACE HASHES=$HASHES KEYS=$KEYS"
say ""

# ---------------------------------------------------------------------------------------------
# 1. Instructions per request under callgrind
IFS=" " read -r -a LOADS_KS <<<"${CG_LOADS:-set-new set-existing get hget hset-new-field del}"
declare -A LOAD_TITLE=([set-new]="SET new" [set-existing]="SET existing" [get]="GET" [hget]="HGET"
    [hset-new-field]="HSET new field" [del]="DEL")
# DBSIZE each load must leave (checked before the shutdown)
declare -A WANT_DBSIZE=([set-new]=$((KEYSPACE + HASHES + CG_REQUESTS)) [set-existing]=$((KEYSPACE + HASHES))
    [get]=$((KEYSPACE + HASHES)) [hget]=$((KEYSPACE + HASHES)) [hset-new-field]=$((KEYSPACE + HASHES)) [del]=$((KEYSPACE + HASHES - CG_REQUESTS))
    [idle]=$((KEYSPACE + HASHES)))

# Hooks of cg_run (lib.sh): the variant is checked once started; the key count before stopping.
cg_started() { [ "$1" = redis ] || check_variant "$1" "$2"; }
cg_stopping() {
    local n
    n=$(dbsize "$3")
    [ "$n" = "${WANT_DBSIZE[$2]}" ] || die "$1 $2: DBSIZE $n, expected ${WANT_DBSIZE[$2]}"
}
# CG_LOAD of cg_run: the load's --pipe file
cg_pipe_load() { load_pipe "$1" "$TMP/load.$2.resp" "$CG_REQUESTS"; }
# CG_LOAD of cg_run: the load's first RT_REQUESTS commands, one per round trip
cg_roundtrip_load() {
    local n
    n=$(ks roundtrip "$1" "$2" "$RT_REQUESTS" "$KEYSPACE" "$HASHES")
    [ "$n" = "$RT_REQUESTS" ] || die "roundtrip $2: $n replies"
}
for l in "${LOADS_KS[@]}"; do
    case $l in
    set-new) WANT_DBSIZE[rt-$l]=$((KEYSPACE + HASHES + RT_REQUESTS)) ;;
    del) WANT_DBSIZE[rt-$l]=$((KEYSPACE + HASHES - RT_REQUESTS)) ;;
    *) WANT_DBSIZE[rt-$l]=$((KEYSPACE + HASHES)) ;;
    esac
done

# cost_table SUFFIX REQUESTS: the table of part 1 for the runs named <load>SUFFIX
cost_table() {
    local sfx=$1 n=$2 l k ba cb v lim_b lim_c
    declare -A Q
    say "$(printf '%-15s %9s %9s %9s %7s %7s %7s %8s %8s  %-32s %9s %7s' load A B C B/A C/B C/A B-A C-B 'targets (B/A; C/B)' redis C/redis)"
    for l in "${LOADS_KS[@]}"; do
        for k in "${CG_KINDS[@]}"; do
            Q[$k]=$(awk -v x="${IR[$k.$sfx$l]}" -v y="${IR[$k.idle]}" -v n="$n" 'BEGIN {print (x - y) / n}')
        done
        if [ "$l" = get ] || [ "$l" = hget ]; then lim_b=1.01 lim_c=1.01; else lim_b=1.02 lim_c=1.05; fi
        ba=$(ratio "${Q[B]}" "${Q[A]}" 4)
        cb=$(ratio "${Q[C]}" "${Q[B]}" 4)
        v=$(awk -v ba="$ba" -v cb="$cb" -v lb="$lim_b" -v lc="$lim_c" 'BEGIN {
            printf "%s (<=%s); %s (<=%s)", (ba <= lb ? "meets" : "MISSES"), lb, (cb <= lc ? "meets" : "MISSES"), lc }')
        local r=- cr=-
        if [ -n "${Q[redis]:-}" ]; then r=$(fmt1 "${Q[redis]}") cr=$(ratio "${Q[C]}" "${Q[redis]}" 3); fi
        say "$(printf '%-15s %9s %9s %9s %7s %7s %7s %8s %8s  %-32s %9s %7s' "${LOAD_TITLE[$l]}" \
            "$(fmt1 "${Q[A]}")" "$(fmt1 "${Q[B]}")" "$(fmt1 "${Q[C]}")" \
            "$ba" "$cb" "$(ratio "${Q[C]}" "${Q[A]}" 4)" \
            "$(awk -v x="${Q[B]}" -v y="${Q[A]}" 'BEGIN {printf "%+.1f", x - y}')" \
            "$(awk -v x="${Q[C]}" -v y="${Q[B]}" 'BEGIN {printf "%+.1f", x - y}')" "$v" "$r" "$cr")"
    done
}

if [ "$SKIP_CALLGRIND" != 1 ]; then
    CG=$TMP/callgrind
    mkdir -p "$CG"
    PRELOAD=$TMP/preload.resp
    PRELOAD_N=$(ks preload "$PRELOAD" "$KEYSPACE" "$HASHES")
    for l in "${LOADS_KS[@]}"; do
        n=$(ks load "$TMP/load.$l.resp" "$l" "$CG_REQUESTS" "$KEYSPACE" "$HASHES")
        [ "$n" = "$CG_REQUESTS" ] || die "load $l: $n commands"
    done
    for k in "${CG_KINDS[@]}"; do
        log "callgrind: $k (${SERVER_ARGS[$k]:-redis-server})"
        cg_run "$k" idle
        CG_LOAD=cg_pipe_load
        for l in "${LOADS_KS[@]}"; do cg_run "$k" "$l" "$l"; done
        if [ "$RT_REQUESTS" -gt 0 ]; then
            CG_LOAD=cg_roundtrip_load
            for l in "${LOADS_KS[@]}"; do cg_run "$k" "rt-$l" "$l"; done
        fi
    done
    mkdir -p "$CG_KEEP"
    cp "$CG"/callgrind.*.out "$CG_KEEP"/

    say "== 1. Instructions per request (user space, valgrind --tool=callgrind, Ir)"
    say "   each load in its own run: start, preload $KEYSPACE strings + $HASHES hashes, $CG_REQUESTS requests"
    say "   (redis-cli --pipe), shutdown; minus an idle run (start, preload, PING, shutdown); / $CG_REQUESTS"
    cost_table "" "$CG_REQUESTS"
    say "$(printf '%-15s %9s %9s %9s %s' 'idle run Ir' "${IR[A.idle]}" "${IR[B.idle]}" "${IR[C.idle]}" "${IR[redis.idle]:-}")"
    say "(lower is cheaper; B-A and C-B are Ir per request. Callgrind counts repeat to a few tenths"
    say " of a percent: the event loop's batching of the pipe differs from run to run)"
    say ""
    if [ "$RT_REQUESTS" -gt 0 ]; then
        say "   the same loads' first $RT_REQUESTS commands from a client without pipelining (one request"
        say "   per round trip, as most applications send them); minus the idle run; / $RT_REQUESTS"
        cost_table rt- "$RT_REQUESTS"
        say ""
    fi
    for pair in $DIFF_PAIRS; do
        for l in "${LOADS_KS[@]}"; do
            cg_diff "${pair%%:*}" "${pair##*:}" "$l" idle "$CG_REQUESTS" "${LOAD_TITLE[$l]}"
        done
    done
    say "callgrind outputs kept in ${CG_KEEP#"$REPO"/}/ (callgrind_annotate --inclusive=yes FILE)"
    say ""
fi

# ---------------------------------------------------------------------------------------------
# 2. Memory per tracked prefix, and the statistics' bytes against the number of keys

# stats_bytes PORT: the keyspace_stats subsystem's bytes
stats_bytes() {
    local b
    b=$(subsystem_bytes "$1" keyspace_stats)
    [ -n "$b" ] || die "no memkv_subsystem_keyspace_stats in INFO memory"
    echo "$b"
}
# tracked_prefixes PORT: prefixes MEMORY PREFIXES lists (only they have keys-with-ttl)
tracked_prefixes() { redis-cli -p "$1" memory prefixes count 100000000 | grep -c '^keys-with-ttl$' || true; }

if [ "$SKIP_PREFIX_MEMORY" != 1 ]; then
    say "== 2. Memory per tracked prefix: memkv_subsystem_keyspace_stats before and after $PREFIX_KEYS keys under"
    say "   each of P distinct prefixes (tenant<letters>:order:<n>), fresh servers B (prefixes off) and C"
    say "$(printf '%7s %8s %8s %12s %12s %12s %12s %10s' P keys tracked 'B before' 'B after' 'C before' 'C after' 'B/prefix')"
    for p in $PREFIX_COUNTS; do
        f=$TMP/prefixes.$p.resp
        n=$(ks prefixes "$f" "$p" "$PREFIX_KEYS")
        declare -A PM=()
        for k in B C; do
            start_server "$k" plain
            check_variant "$k" "$SRV_PORT"
            PM[$k.0]=$(stats_bytes "$SRV_PORT")
            load_pipe "$SRV_PORT" "$f" "$n"
            PM[$k.1]=$(stats_bytes "$SRV_PORT")
            [ "$k" = C ] && PM[tracked]=$(tracked_prefixes "$SRV_PORT")
            stop_server "$SRV_PID" "$SRV_PORT"
        done
        per=$(awk -v c0="${PM[C.0]}" -v c1="${PM[C.1]}" -v b0="${PM[B.0]}" -v b1="${PM[B.1]}" -v t="${PM[tracked]}" \
            'BEGIN {if (t > 0) printf "%.1f", ((c1 - c0) - (b1 - b0)) / t; else print "n/a"}')
        say "$(printf '%7s %8s %8s %12s %12s %12s %12s %10s' "$p" "$n" "${PM[tracked]}" "${PM[B.0]}" "${PM[B.1]}" \
            "${PM[C.0]}" "${PM[C.1]}" "$per")"
    done
    say "(B/prefix = ((C after - C before) - (B after - B before)) / tracked: the prefix table's slot"
    say " share (it doubles at 3/4 full) plus the name's block; prefixes beyond keyspace-prefix-max are"
    say " not tracked and cost nothing: their keys are summed in (other))"
    say ""
fi

# ---------------------------------------------------------------------------------------------
# 3. Side by side: the mixed key space of KEYS keys, loaded in three parts (the statistics'
# bytes are read after each part on memkv).
CHUNKS=(0 $((KEYS / 100)) $((KEYS / 10)) "$KEYS")
CHUNK_N=()
if [ "$SKIP_PREFIX_MEMORY" != 1 ] || [ "$SKIP_SIDE_BY_SIDE" != 1 ]; then
    log "making the mixed key space: $KEYS keys"
    for i in 1 2 3; do
        n=$(ks mixed "$TMP/mixed.$i.resp" "${CHUNKS[$((i - 1))]}" "${CHUNKS[$i]}")
        CHUNK_N[i]=$n
    done
fi

# load_mixed KIND PORT: the three parts; on memkv, MIX[bytes.I] = the statistics' bytes after
# part I (I = 0: before), MIX[load] = seconds of the whole load.
declare -A MIX
load_mixed() {
    local kind=$1 port=$2 i t0 t1
    [ "$kind" = redis ] || MIX[bytes.0]=$(stats_bytes "$port")
    t0=$(date +%s.%N)
    for i in 1 2 3; do
        load_pipe "$port" "$TMP/mixed.$i.resp" "${CHUNK_N[$i]}"
        [ "$kind" = redis ] || MIX[bytes.$i]=$(stats_bytes "$port")
    done
    t1=$(date +%s.%N)
    MIX[$kind.load]=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')
    [ "$(dbsize "$port")" = "$KEYS" ] || die "$kind: DBSIZE $(dbsize "$port") after loading $KEYS keys"
    MIX[$kind.used]=$(used_memory "$port")
    log "$kind: $KEYS keys loaded in ${MIX[$kind.load]} s, used_memory ${MIX[$kind.used]}"
}

# analyses KIND PORT: the client-side analyses that work on both servers; sets T[KIND.*].
declare -A T
analyses() {
    local kind=$1 port=$2 xs=() out
    for _ in $(seq 1 "$RI_ROUNDS"); do
        read -r out "T[$kind.ri_keys]" "T[$kind.ri_bytes]" <<<"$(ks ri-sample "$port" "$RI_KEYS")"
        xs+=("$out")
    done
    T[$kind.ri]=$(median "${xs[@]}")
    log "$kind: RedisInsight-style sample of ${T[$kind.ri_keys]} keys: ${xs[*]} s"
    if [ "$SKIP_FULL_SCANS" != 1 ]; then
        T[$kind.memkeys]=$(timed "$TMP/$kind.memkeys.txt" redis-cli -p "$port" --memkeys)
        log "$kind: redis-cli --memkeys ${T[$kind.memkeys]} s"
        T[$kind.bigkeys]=$(timed "$TMP/$kind.bigkeys.txt" redis-cli -p "$port" --bigkeys)
        log "$kind: redis-cli --bigkeys ${T[$kind.bigkeys]} s"
    fi
}

if [ "$SKIP_PREFIX_MEMORY" != 1 ] || [ "$SKIP_SIDE_BY_SIDE" != 1 ]; then
    start_server C plain
    check_variant C "$SRV_PORT"
    MPID=$SRV_PID MPORT=$SRV_PORT
    load_mixed memkv "$MPORT"
    if [ "$SKIP_PREFIX_MEMORY" != 1 ]; then
        say "== 2b. The statistics' bytes against the number of keys (C, the mixed key space of part 3)"
        say "$(printf '%10s %10s %14s %12s %16s' keys prefixes 'stats bytes' growth 'growth/new key')"
        np=$(tracked_prefixes "$MPORT")
        for i in 0 1 2 3; do
            j=$((i > 0 ? i - 1 : 0))
            say "$(printf '%10s %10s %14s %12s %16s' "${CHUNKS[$i]}" "$([ "$i" = 3 ] && echo "$np" || echo -)" "${MIX[bytes.$i]}" \
                "$(awk -v b="${MIX[bytes.$i]}" -v b0="${MIX[bytes.$j]}" 'BEGIN {print b - b0}')" \
                "$(awk -v b="${MIX[bytes.$i]}" -v b0="${MIX[bytes.$j]}" -v k="$((CHUNKS[i] - CHUNKS[j]))" 'BEGIN {if (k > 0) printf "%.4f", (b - b0) / k; else print "-"}')")"
        done
        say "(growth: since the row above; the histograms and the top-keys candidate sets are of fixed"
        say " size (the sets fill up with the first keys), the prefix table grows with prefixes only)"
        say ""
    fi
    if [ "$SKIP_SIDE_BY_SIDE" != 1 ]; then
        sleep 1 # the load's last rehashing steps and purges are not what we time
        read -r "T[prefixes.first]" "T[prefixes]" _ _ <<<"$(ks time "$MPORT" "$REPEAT" MEMORY PREFIXES COUNT 20)"
        read -r "T[topkeys.first]" "T[topkeys]" _ _ <<<"$(ks time "$MPORT" "$REPEAT" MEMORY TOP-KEYS COUNT 32)"
        read -r "T[ping.first]" "T[ping]" _ _ <<<"$(ks time "$MPORT" "$REPEAT" PING)"
        log "memkv: PING ${T[ping]} s, MEMORY PREFIXES ${T[prefixes]} s, MEMORY TOP-KEYS ${T[topkeys]} s (medians)"
        redis-cli -p "$MPORT" memory prefixes count 20 >"$TMP/prefixes.txt"
        analyses memkv "$MPORT"
    fi
    stop_server "$MPID" "$MPORT"
fi

if [ "$SKIP_SIDE_BY_SIDE" != 1 ]; then
    start_server redis plain
    load_mixed redis "$SRV_PORT"
    analyses redis "$SRV_PORT"
    stop_server "$SRV_PID" "$SRV_PORT"

    ms() { awk -v s="$1" 'BEGIN {printf "%.3f", s * 1000}'; }
    say "== 3. Side by side on $KEYS keys (mixed strings, hashes, lists, sets, sorted sets; the same --pipe input)"
    say "   loaded: redis ${MIX[redis.load]} s, used_memory ${MIX[redis.used]}; memkv ${MIX[memkv.load]} s, used_memory ${MIX[memkv.used]}"
    say "$(printf '%-54s %12s %14s' 'time (ms; wall clock)' redis memkv)"
    say "$(printf '%-54s %12s %14s' "RedisInsight-style analysis, $RI_KEYS keys (median of $RI_ROUNDS)" "$(ms "${T[redis.ri]}")" "$(ms "${T[memkv.ri]}")")"
    if [ "$SKIP_FULL_SCANS" != 1 ]; then
        say "$(printf '%-54s %12s %14s' 'redis-cli --memkeys (every key)' "$(ms "${T[redis.memkeys]}")" "$(ms "${T[memkv.memkeys]}")")"
        say "$(printf '%-54s %12s %14s' 'redis-cli --bigkeys (every key)' "$(ms "${T[redis.bigkeys]}")" "$(ms "${T[memkv.bigkeys]}")")"
    fi
    say "$(printf '%-54s %12s %14s' "MEMORY PREFIXES COUNT 20 (median of $REPEAT; first)" - "$(ms "${T[prefixes]}") ($(ms "${T[prefixes.first]}"))")"
    say "$(printf '%-54s %12s %14s' "MEMORY TOP-KEYS COUNT 32 (median of $REPEAT; first)" - "$(ms "${T[topkeys]}") ($(ms "${T[topkeys.first]}"))")"
    say "$(printf '%-54s %12s %14s' "PING (the round trip alone; median of $REPEAT)" - "$(ms "${T[ping]}")")"
    say "ratios (times longer than memkv's answer):"
    say "  redis RedisInsight-style sample / memkv MEMORY PREFIXES  $(ratio "${T[redis.ri]}" "${T[prefixes]}" 0)"
    say "  memkv RedisInsight-style sample / memkv MEMORY PREFIXES  $(ratio "${T[memkv.ri]}" "${T[prefixes]}" 0)"
    say "  redis RedisInsight-style sample / memkv's same sample    $(ratio "${T[redis.ri]}" "${T[memkv.ri]}" 2)"
    if [ "$SKIP_FULL_SCANS" != 1 ]; then
        say "  redis --memkeys / memkv MEMORY TOP-KEYS                  $(ratio "${T[redis.memkeys]}" "${T[topkeys]}" 0)"
        say "  redis --bigkeys / memkv MEMORY TOP-KEYS                  $(ratio "${T[redis.bigkeys]}" "${T[topkeys]}" 0)"
        say "  memkv --memkeys / memkv MEMORY TOP-KEYS                  $(ratio "${T[memkv.memkeys]}" "${T[topkeys]}" 0)"
        say "  redis --memkeys / memkv --memkeys                        $(ratio "${T[redis.memkeys]}" "${T[memkv.memkeys]}" 2)"
    fi
    say "(the sample sees $RI_KEYS of $KEYS keys and estimates; MEMORY PREFIXES and TOP-KEYS are exact over all)"
    say "memkv MEMORY PREFIXES COUNT 20:"
    awk 'prev == "prefix" {name = $0} prev == "keys" {keys = $0}
         prev == "bytes" {printf "  %-22s %9s keys %12s bytes\n", name, keys, $0} {prev = $0}' \
        "$TMP/prefixes.txt" | tee -a "$REPORT"
    say ""
fi

say "total time: $(($(date +%s) - T0)) s"
bench_finish
