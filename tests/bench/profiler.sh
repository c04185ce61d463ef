#!/usr/bin/env bash
# What the heap profiler costs (issue 4, "Benchmark"). Not a test: the figures for the README and
# the issue's note come from here.
#
#   bash tests/bench/profiler.sh
#
# One memkv binary (build-bench, Release), three variants, same invocation:
#   off   --memory-profiling-enabled no                     (jemalloc prof:true, prof.active off)
#   p512  --memory-profiling-enabled yes, sample-bytes 524288 (the default rate)
#   p64   --memory-profiling-enabled yes, sample-bytes 65536
# p512/off and p64/off are the ratios. Targets: >= 0.99 at 512 KiB, >= 0.97 at 64 KiB. For
# scale: jemalloc's sampling costs Redis 7.0.15 about 0.5% of server CPU at 512 KiB and about
# 2.5% at 64 KiB on SET/GET with pipelining.
# The binary embeds prof:true,prof_active:false; MALLOC_CONF would override it, so it is unset.
#
# Measures:
#   1. throughput: redis-benchmark -c 50, -P 1 and -P 16 (REQUESTS, REQUESTS_P16 requests per
#      run): SET and GET with random keys (-r KEYSPACE) over a preloaded key space of KEYSPACE
#      keys (values "xxx", -d 3: overwrites of same-size values, which memkv rewrites in place: no
#      allocation), and NEWSET: SET -d NEW_VALUE with keys random over NEW_KEYSPACE names, i.e. new
#      keys, each allocating (the load the sampler has something to sample in). Every run starts
#      from the preload only: after a NEWSET run the server is flushed and preloaded again. ROUNDS
#      rounds, the order of the variants rotating; medians and ratios. Before the rounds, the CPU
#      time of each idle server's event loop over IDLE_SECONDS (schedstat): on minus off is what
#      the profiler's cron costs in real time.
#   2. user-space instructions per request (Ir, valgrind --tool=callgrind; valgrind replaces
#      nothing of jemalloc, it is not memcheck, so the sampling runs as usual): one run per load
#      and per variant (start, preload, redis-benchmark -n CG_REQUESTS, shutdown) minus an idle
#      run (start, preload, PING, shutdown), per request; plus INSERT, the preload itself (idle
#      run minus an empty run, per key); ratios; the functions whose Ir grew, for NEWSET and
#      INSERT. The profiler's cron (a jemalloc statistics refresh each tick while profiling is or
#      was on) is a cost per second, not per request, which callgrind's ~50x slowdown spreads over
#      far fewer requests than real time does: the per-request figures leave its Ir out, and the
#      "real" ratio puts back its share of a core measured in part 1.
#   3. the event-loop stall a concurrent client sees during dumps: a server profiling at
#      STALL_SAMPLE bytes (many samples), STALL_KEYS keys written by a mix of commands and
#      DEBUG LEAK calls (several call paths, so several stacks); one client sends PING (then, a
#      second pass, SET over 1000 keys with values of 100 and 300 bytes in turn: every SET
#      allocates and is sampled, the key space stays the same size) in a loop, timing each
#      round trip, while another requests dumps one after the other, DUMP_PAUSE_MS apart (MEMORY
#      PROFILE DUMP SVG, DUMP PPROF, GET /debug/pprof/heap over HTTP); the same loop without dumps
#      is the baseline. The stall "during dumps" is the longest round trip that overlapped a dump.
#      The phases run unpinned (as the host schedules) and pinned (event loop + probe on CPU 1,
#      the rest on CPU 0: what a dump does to the loop itself, without the competition for a
#      core), and pinned+RT (the same, with the event loop and the probe SCHED_FIFO: no other
#      task of the host can delay them, so the stall left is the server's own); the main
#      thread's time waiting for a CPU (schedstat) is reported per phase.
# Results go to stdout and to tests/bench/results/profiler-<date>.txt (gitignored); the callgrind
# outputs are kept next to it (profiler-<date>-callgrind/) for callgrind_annotate.
#
# Environment:
#   ROUNDS=7              throughput rounds (median taken)
#   REQUESTS=200000       requests per redis-benchmark throughput run, -P 1
#   REQUESTS_P16=1000000  the same, -P 16 (200000 pipelined requests last ~0.15 s: too noisy)
#   KEYSPACE=100000       -r for SET/GET, and the keys preloaded before every load
#   NEW_KEYSPACE=100000000  -r for NEWSET (so nearly every SET makes a new key)
#   NEW_VALUE=100         -d for NEWSET
#   CG_REQUESTS=100000    requests per load under callgrind
#   TOP=10                functions listed in the per-function difference
#   IDLE_SECONDS=10       the event loop's CPU at rest is measured over this long (part 1)
#   STALL_KEYS=200000     keys loaded into the stall server
#   STALL_SAMPLE=4096     its memory-profiling-sample-bytes
#   STALL_SECONDS=5       length of each probe phase
#   STALL_REPEATS=3       the four phases (PING/SET, with/without dumps) run this many times, in turn
#   DUMP_PAUSE_MS=10      pause of the dumper between two dumps (0: back to back)
#   RT_PRIO=50            SCHED_FIFO priority of the event loop and the probe in the pinned+RT phases
#   RT_PROBE_PAUSE_US=100 the RT probe's pause between round trips (keeps CPU 1 below RT throttling)
#   MEMKV_SERVER=path     use this binary instead of building build-bench
#   MEMKV_SERVER_NOFP=path  the same for the build without frame pointers (build-bench-nofp)
#   SKIP_THROUGHPUT=1 / SKIP_CALLGRIND=1 / SKIP_STALL=1   skip a part
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"

ROUNDS=${ROUNDS:-7}
REQUESTS=${REQUESTS:-200000}
REQUESTS_P16=${REQUESTS_P16:-1000000}
KEYSPACE=${KEYSPACE:-100000}
NEW_KEYSPACE=${NEW_KEYSPACE:-100000000}
NEW_VALUE=${NEW_VALUE:-100}
CG_REQUESTS=${CG_REQUESTS:-100000}
TOP=${TOP:-10}
STALL_KEYS=${STALL_KEYS:-200000}
STALL_SAMPLE=${STALL_SAMPLE:-4096}
STALL_SECONDS=${STALL_SECONDS:-5}
IDLE_SECONDS=${IDLE_SECONDS:-10}
STALL_REPEATS=${STALL_REPEATS:-3}
DUMP_PAUSE_MS=${DUMP_PAUSE_MS:-10}
RT_PRIO=${RT_PRIO:-50}
RT_PROBE_PAUSE_US=${RT_PROBE_PAUSE_US:-100}
SKIP_THROUGHPUT=${SKIP_THROUGHPUT:-0}
SKIP_CALLGRIND=${SKIP_CALLGRIND:-0}
SKIP_STALL=${SKIP_STALL:-0}

BENCH_NAME=profiler
# shellcheck source=tests/bench/lib.sh
. "$REPO/tests/bench/lib.sh"

# memkv embeds prof:true,prof_active:false; a MALLOC_CONF from the caller would override it.
if [ -n "${MALLOC_CONF:-}" ]; then
    log "unsetting MALLOC_CONF=$MALLOC_CONF (it would override the prof:true memkv embeds)"
    unset MALLOC_CONF
fi

[ -n "${MEMKV_SERVER:-}" ] && NO_BUILD=1
need_tools
# The profiler's symbolizer needs libdw (not in need_tools' list).
[ "${NO_BUILD:-0}" = 1 ] || need_packages libdw-dev

use_memkv MEMKV MEMKV_SERVER build-bench -DMEMKV_ACCOUNTING=ON
if [ "$SKIP_CALLGRIND" != 1 ]; then
    use_memkv "SERVER_BIN[nofp]" MEMKV_SERVER_NOFP build-bench-nofp -DMEMKV_ACCOUNTING=ON -DMEMKV_FRAME_POINTERS=OFF
fi

VARIANTS=(off p512 p64)
SERVER_ARGS[off]="--memory-profiling-enabled no"
SERVER_ARGS[p512]="--memory-profiling-enabled yes --memory-profiling-sample-bytes 524288"
SERVER_ARGS[p64]="--memory-profiling-enabled yes --memory-profiling-sample-bytes 65536"
# Under callgrind only, two more: p64 with jemalloc's own (libgcc) unwinder instead of memkv's
# frame-pointer walk (what the walk saves), and the off variant built without frame pointers
# (what keeping them costs every request).
CG_VARIANTS=(off p512 p64 p64g nofp)
SERVER_ARGS[p64g]="${SERVER_ARGS[p64]} --memory-profiling-unwinder libgcc"
SERVER_ARGS[nofp]="${SERVER_ARGS[off]}"
declare -A WANT_ACTIVE=([off]=0 [p512]=1 [p64]=1 [p64g]=1 [nofp]=0)
declare -A WANT_SAMPLE=([off]=524288 [p512]=524288 [p64]=65536 [p64g]=65536 [nofp]=524288)
declare -A WANT_UNWINDER=([off]=frame-pointer [p512]=frame-pointer [p64]=frame-pointer [p64g]=libgcc [nofp]=libgcc)
declare -A VNAME=([off]="off" [p512]="on@512KiB" [p64]="on@64KiB" [p64g]="on@64KiB, libgcc unwinder"
    [nofp]="off, built without frame pointers")

# check_variant KIND PORT: the server is the variant it should be (INFO memory).
check_variant() {
    local kind=$1 port=$2 avail active sample unw
    avail=$(info_field "$port" memory memkv_profiling_available)
    active=$(info_field "$port" memory memkv_profiling_active)
    sample=$(info_field "$port" memory memkv_profiling_sample_bytes)
    [ "$avail" = 1 ] || die "variant $kind: memkv_profiling_available is '$avail' (jemalloc without prof:true?)"
    [ "$active" = "${WANT_ACTIVE[$kind]}" ] || die "variant $kind: memkv_profiling_active is '$active', expected ${WANT_ACTIVE[$kind]}"
    [ "$sample" = "${WANT_SAMPLE[$kind]}" ] || die "variant $kind: memkv_profiling_sample_bytes is '$sample', expected ${WANT_SAMPLE[$kind]}"
    unw=$(info_field "$port" memory memkv_profiling_unwinder)
    [ "$unw" = "${WANT_UNWINDER[$kind]}" ] || die "variant $kind: memkv_profiling_unwinder is '$unw', expected ${WANT_UNWINDER[$kind]}"
    [ -n "$HZ" ] || HZ=$(redis-cli -p "$port" config get hz | tr -d '\r' | sed -n 2p)
}

# Loads: "test pipeline"; test "new" is SET of new keys (-d NEW_VALUE -r NEW_KEYSPACE).
PLOADS=("set 1" "get 1" "set 16" "get 16" "new 1" "new 16")
pload_name() {
    local t=${1%% *} p=${1##* }
    [ "$t" = new ] && t=newset
    echo "${t^^} P$p"
}

# bench_load PORT LOAD N -> requests per second (as lib.sh's bench, with the NEWSET load)
bench_load() {
    local port=$1 t=${2%% *} p=${2##* } n=$3 args out rps
    if [ "$t" = new ]; then
        args=(-t set -d "$NEW_VALUE" -r "$NEW_KEYSPACE")
    else
        args=(-t "$t" -r "$KEYSPACE")
    fi
    out=$(timeout 600 redis-benchmark -p "$port" "${args[@]}" -n "$n" -c "$CLIENTS" -P "$p" -q --csv 2>&1) ||
        die "redis-benchmark ${args[*]} -P $p failed: $out"
    rps=$(awk -F'"' '$2 == "SET" || $2 == "GET" {print $4}' <<<"$out")
    [ -n "$rps" ] || die "no rps in redis-benchmark output: $out"
    echo "$rps"
}

# cpu_ns PID main|all: CPU time so far (ns, /proc schedstat) of the main thread or of all threads
cpu_ns() {
    if [ "$2" = main ]; then
        awk '{print $1}' "/proc/$1/task/$1/schedstat"
    else
        cat /proc/"$1"/task/*/schedstat | awk '{s += $1} END {print s}'
    fi
}

# restore PORT: back to the preload only (after a NEWSET run).
restore() {
    redis-cli -p "$1" flushall >/dev/null
    load_pipe "$1" "$PRELOAD" "$KEYSPACE"
}

# tverdict RATIO TARGET (throughput) / cverdict RATIO TARGET (instructions)
tverdict() {
    awk -v r="$1" -v t="$2" 'BEGIN { if (r == "n/a") print "n/a";
        else if (r >= t) printf "meets (>=%s)", t;
        else if (r >= t - 0.2) printf "below %s (within the ±20%% noise)", t;
        else printf "MISSES (>=%s)", t }'
}
cverdict() {
    awk -v r="$1" -v t="$2" 'BEGIN { if (r == "n/a") print "n/a"; else if (r >= t) printf "meets (>=%s)", t; else printf "MISSES (>=%s)", t }'
}

# host_load: the load average and the processes using >= 20% of a CPU right now (other work on
# this machine moves every figure but the instruction counts).
host_load() {
    local busy
    busy=$(top -b -n 2 -d 0.5 -w 200 2>/dev/null |
        awk '/^top -/ {n++} n == 2 && $1 ~ /^[0-9]+$/ && $9 + 0 >= 20 {printf "%s (pid %s, %s%%); ", $12, $1, $9}')
    echo "load average $(cut -d' ' -f1-3 /proc/loadavg); busy now: ${busy:-none}"
}

bench_init
CG_KEEP=$RESULTS_DIR/profiler-$STAMP-callgrind
HZ=""
declare -A FIG SNAPS SNAP_TP CAP_TP IDLE_MAIN IDLE_ALL CRON_SHARE # FIG: figures for the summary table at the end

# ---------------------------------------------------------------------------------------------
T0=$(date +%s)
say "memkv: cost of the heap profiler (jemalloc sampling) and event-loop stalls during dumps — $(date '+%Y-%m-%d %H:%M:%S %z')"
say "commit: $(memkv_commit)"
say "binary: ${MEMKV#"$REPO"/} (jemalloc $(ldd "$MEMKV" | awk '/jemalloc/ {print $3}'); prof:true,prof_active:false embedded; MALLOC_CONF unset)"
for k in "${CG_VARIANTS[@]}"; do say "$(printf '%-6s %-34s %s' "$k" "${VNAME[$k]}" "${SERVER_ARGS[$k]}")"; done
say "(p64g and nofp: under callgrind only; nofp runs ${SERVER_BIN[nofp]:-(not built: SKIP_CALLGRIND)})"
say "tools:  $(redis-benchmark --version 2>/dev/null | head -n 1), $(valgrind --version)"
say "load:   $(host_load)"
say "host:   $(nproc) cores, $(uname -sr); ROUNDS=$ROUNDS REQUESTS=$REQUESTS/$REQUESTS_P16 KEYSPACE=$KEYSPACE NEW_KEYSPACE=$NEW_KEYSPACE NEW_VALUE=$NEW_VALUE CG_REQUESTS=$CG_REQUESTS"
say ""
say "Ratios are throughput on/off: 1.000 = no cost. Targets: >= 0.99 at 512 KiB (p512/off), >= 0.97 at"
say "64 KiB (p64/off). For scale: jemalloc's sampling costs Redis 7.0.15 about 0.5% of server CPU at"
say "512 KiB and about 2.5% at 64 KiB (SET/GET, pipelined)."
say ""
say "Why NEWSET: jemalloc samples by bytes allocated (one sample per sample-bytes on average)."
say "SET over the preloaded keys with redis-benchmark's 3-byte values replaces 3-byte values with"
say "3-byte values, which memkv rewrites in place, and GET allocates nothing either: those loads give"
say "the sampler nothing to sample, so they measure only what an active profiler costs a request that"
say "does not allocate (expected: nothing). NEWSET (SET -d $NEW_VALUE of keys random over $NEW_KEYSPACE"
say "names: nearly every request makes a new key) allocates on every request, as does INSERT (the"
say "preload: SETs of new keys through redis-cli --pipe); there sampling has work to do."
say ""

PRELOAD=$TMP/preload.resp
make_pipe "$PRELOAD" "$KEYSPACE" "key:%012d"

hdr() { printf '%-11s' load; printf ' %11s' "$@"; }

# ---------------------------------------------------------------------------------------------
# 1. Throughput
if [ "$SKIP_THROUGHPUT" != 1 ]; then
    declare -A PID PORT TP
    log "throughput: starting ${VARIANTS[*]}, preloading $KEYSPACE keys into each"
    for k in "${VARIANTS[@]}"; do
        start_server "$k" plain
        PID[$k]=$SRV_PID PORT[$k]=$SRV_PORT
        check_variant "$k" "$SRV_PORT"
        load_pipe "$SRV_PORT" "$PRELOAD" "$KEYSPACE"
    done
    # The event loop at rest (preloaded, no clients): its CPU time (schedstat, ns) over
    # IDLE_SECONDS, all variants at once. What the profiler's cron costs in real time.
    log "event loop at rest: ${IDLE_SECONDS} s"
    sleep 1
    declare -A C0M C0A
    for k in "${VARIANTS[@]}"; do C0M[$k]=$(cpu_ns "${PID[$k]}" main) C0A[$k]=$(cpu_ns "${PID[$k]}" all); done
    sleep "$IDLE_SECONDS"
    for k in "${VARIANTS[@]}"; do
        IDLE_MAIN[$k]=$(awk -v a="$(cpu_ns "${PID[$k]}" main)" -v b="${C0M[$k]}" -v s="$IDLE_SECONDS" 'BEGIN {print (a - b) / s / 1000}')
        IDLE_ALL[$k]=$(awk -v a="$(cpu_ns "${PID[$k]}" all)" -v b="${C0A[$k]}" -v s="$IDLE_SECONDS" 'BEGIN {print (a - b) / s / 1000}')
    done
    for k in "${VARIANTS[@]}"; do
        CRON_SHARE[$k]=$(awk -v a="${IDLE_MAIN[$k]}" -v b="${IDLE_MAIN[off]}" 'BEGIN {print (a - b) / 1e6}')
    done
    n=${#VARIANTS[@]}
    for r in $(seq 1 "$ROUNDS"); do
        for l in "${PLOADS[@]}"; do
            line=""
            for i in $(seq 0 $((n - 1))); do
                k=${VARIANTS[$(((i + r - 1) % n))]}
                nreq=$REQUESTS
                [ "${l##* }" = 1 ] || nreq=$REQUESTS_P16
                v=$(bench_load "${PORT[$k]}" "$l" "$nreq")
                [ "${l%% *}" = new ] && restore "${PORT[$k]}"
                TP[$k.$l]="${TP[$k.$l]:-} $v"
                line="$line $k $(fmt0 "$v")"
            done
            log "round $r/$ROUNDS $(pload_name "$l"):$line ops/s"
        done
    done
    for k in "${VARIANTS[@]}"; do
        [ "$(dbsize "${PORT[$k]}")" = "$KEYSPACE" ] || log "warning: $k DBSIZE $(dbsize "${PORT[$k]}") != $KEYSPACE"
        check_variant "$k" "${PORT[$k]}"
        SNAP_TP[$k]=$(info_field "${PORT[$k]}" memory memkv_profiling_snapshots)
        CAP_TP[$k]=$(info_field "${PORT[$k]}" memory memkv_profiling_cap)
        stop_server "${PID[$k]}" "${PORT[$k]}"
    done

    declare -A MED
    say "== Throughput (ops/s): redis-benchmark -c $CLIENTS -n $REQUESTS (P1) / $REQUESTS_P16 (P16), median of $ROUNDS rounds (order rotating)"
    say "   SET/GET: -r $KEYSPACE over the preloaded keys; NEWSET: SET -d $NEW_VALUE -r $NEW_KEYSPACE (new keys)"
    say "$(hdr off p512 p64 p512/off p64/off)   verdict p512 / p64"
    for l in "${PLOADS[@]}"; do
        row=$(printf '%-11s' "$(pload_name "$l")")
        for k in "${VARIANTS[@]}"; do
            read -r -a xs <<<"${TP[$k.$l]}"
            MED[$k]=$(median "${xs[@]}")
            row="$row $(printf ' %11s' "$(fmt0 "${MED[$k]}")")"
        done
        r512=$(ratio "${MED[p512]}" "${MED[off]}")
        r64=$(ratio "${MED[p64]}" "${MED[off]}")
        FIG[tp.$l.p512]=$r512 FIG[tp.$l.p64]=$r64
        row="$row $(printf ' %11s %11s' "$r512" "$r64")   $(tverdict "$r512" 0.99) / $(tverdict "$r64" 0.97)"
        say "$row"
    done
    say "spread (min..max ops/s over the rounds):"
    for l in "${PLOADS[@]}"; do
        row=$(printf '  %-11s' "$(pload_name "$l")")
        for k in "${VARIANTS[@]}"; do
            read -r -a xs <<<"${TP[$k.$l]}"
            row="$row $(printf ' %-5s %-17s' "$k" "$(fmt0 "$(minof "${xs[@]}")")..$(fmt0 "$(maxof "${xs[@]}")")")"
        done
        say "$row"
    done
    say "Event loop at rest (preloaded, no clients, ${IDLE_SECONDS} s, all variants at once): CPU time of the main"
    say "thread, µs per second: $(for k in "${VARIANTS[@]}"; do printf '%s %s  ' "$k" "$(fmt1 "${IDLE_MAIN[$k]}")"; done)(whole process:"
    say "$(for k in "${VARIANTS[@]}"; do printf '%s %s  ' "$k" "$(fmt1 "${IDLE_ALL[$k]}")"; done)). on minus off = the profiler's cron in real time: p512"
    say "$(awk -v x="${CRON_SHARE[p512]}" 'BEGIN {printf "%.3f", 100 * x}')%, p64 $(awk -v x="${CRON_SHARE[p64]}" 'BEGIN {printf "%.3f", 100 * x}')% of a core: the throughput a saturated event loop loses to it."
    say "(profiler snapshots taken during the runs, every 60 s while active, as configured by default:"
    say " $(for k in "${VARIANTS[@]}"; do printf '%s %s  ' "$k" "${SNAP_TP[$k]}"; done)cap: $(for k in "${VARIANTS[@]}"; do printf '%s %s  ' "$k" "${CAP_TP[$k]}"; done))"
    say ""
fi

# ---------------------------------------------------------------------------------------------
# 2. Instructions per request under callgrind
# Callgrind runs are lib.sh's cg_run, with the variant checked after the start, the NEWSET
# load, and the profiler snapshots counted before the shutdown (SNAPS[KIND.NAME]: a snapshot in
# one run and not in its idle run would bias the difference).
cg_started() { check_variant "$1" "$2"; }
cg_stopping() { SNAPS[$1.$2]=$(info_field "$3" memory memkv_profiling_snapshots); }
cg_bench_load() { bench_load "$1" "$2" "$CG_REQUESTS"; }
CG_LOAD=cg_bench_load

# cg_cron FILE -> "IR CALLS": inclusive Ir of profile_cron and the number of its calls (0 0 when
# it does not appear).
cg_cron() {
    callgrind_annotate --tree=caller --inclusive=yes --threshold=100 "$1" 2>/dev/null | awk '
        /^ *$/ {calls = 0; next}
        / < / {c = $0; sub(/.*\(/, "", c); sub(/x\).*/, "", c); calls += c; next}
        / \* / && /:profile_cron / {ir = $1; gsub(",", "", ir); print ir, calls; found = 1; exit}
        / \* / {calls = 0}
        END {if (!found) print 0, 0}'
}

CG_ROWS=("${PLOADS[@]}" insert)
# row_spec ROW: ROW_RUN, ROW_BASE (callgrind run names), ROW_DIV, ROW_NAME
row_spec() {
    if [ "$1" = insert ]; then
        ROW_RUN=idle ROW_BASE=empty ROW_DIV=$KEYSPACE ROW_NAME=INSERT
    else
        ROW_RUN="${1%% *}-P${1##* }" ROW_BASE=idle ROW_DIV=$CG_REQUESTS ROW_NAME=$(pload_name "$1")
    fi
}
if [ "$SKIP_CALLGRIND" != 1 ]; then
    CG=$TMP/callgrind
    mkdir -p "$CG"
    for k in "${CG_VARIANTS[@]}"; do
        log "callgrind: $k"
        cg_run "$k" empty
        cg_run "$k" idle
        for l in "${PLOADS[@]}"; do
            cg_run "$k" "${l%% *}-P${l##* }" "$l"
        done
    done
    mkdir -p "$CG_KEEP"
    cp "$CG"/callgrind.*.out "$CG_KEEP"/

    # The profiler's cron: while profiling is (or once was) active, each tick of the server's
    # cron (hz a second) refreshes jemalloc's statistics (mallctl epoch) to watch the profiler's
    # own memory. A cost per unit of time, not per request: under callgrind, which runs the
    # server ~50 times slower, it lands on many times fewer requests than in real time. So the
    # per-request figures leave profile_cron's inclusive Ir out, and it is reported per tick and
    # added back at the real request rate (the median throughput of part 1).
    declare -A IRQ IRX CRON_IR CRON_N
    for f in "$CG"/callgrind.*.out; do
        x=${f##*/callgrind.}
        x=${x%.out}
        read -r "CRON_IR[$x]" "CRON_N[$x]" < <(cg_cron "$f")
    done
    declare -A TICK
    for k in "${CG_VARIANTS[@]}"; do
        ci=0 cn=0
        for x in "${!CRON_IR[@]}"; do
            [ "${x%%.*}" = "$k" ] || continue
            ci=$((ci + CRON_IR[$x])) cn=$((cn + CRON_N[$x]))
        done
        TICK[$k]=$(awk -v i="$ci" -v n="$cn" 'BEGIN {print (n > 0 ? i / n : 0)}')
    done

    say "== Instructions per request (user space, all threads, valgrind --tool=callgrind, Ir)"
    say "   Each load in its own run: start, preload $KEYSPACE keys, redis-benchmark -n $CG_REQUESTS -c $CLIENTS,"
    say "   shutdown; minus an idle run (start, preload, PING, shutdown); divided by $CG_REQUESTS. INSERT: the"
    say "   preload ($KEYSPACE SETs of new keys, redis-cli --pipe) and freeing them at shutdown: the idle run"
    say "   minus an empty run (start, PING, shutdown), divided by $KEYSPACE. Valgrind's callgrind replaces"
    say "   nothing of jemalloc (it is not memcheck): the sampling runs as it does outside valgrind."
    say "   Ratio = Ir/req off / Ir/req on: the throughput ratio the instruction count implies (1.000 = no"
    say "   cost). Kernel time (syscalls, most of a P1 request's cost) is not counted, so these ratios"
    say "   overstate the relative cost; they resolve differences throughput cannot."
    say ""
    say "   The profiler's cron (profile_cron, once a tick, hz=$HZ a second): inclusive Ir per tick, from"
    say "   all the callgrind runs: $(for k in "${VARIANTS[@]}"; do printf '%s %s  ' "$k" "$(fmt0 "${TICK[$k]}")"; done)"
    say "   i.e. $(for k in "${VARIANTS[@]}"; do printf '%s %s  ' "$k" "$(awk -v t="${TICK[$k]}" -v h="$HZ" 'BEGIN {printf "%.2f M", t * h / 1e6}')"; done)Ir a second of real time, on the event loop"
    say "   (jemalloc's statistics refreshed every tick to watch the profiler's own memory; the off"
    say "   variant never activated profiling and skips it; most of those Ir are memset, rep stosb,"
    say "   which valgrind counts once per byte). Under callgrind a tick covers ~50x fewer requests"
    say "   than in real time, so:"
    say "   sampling = Ir/req without profile_cron (the cost per request: the sampling itself);"
    say "   raw      = Ir/req with profile_cron as callgrind counted it (time-based cost inflated);"
    say "   real     = sampling x (1 - the cron's share of a core measured at rest in part 1): the"
    say "              estimate for a saturated event loop."
    say "$(hdr off p512 p64)  $(printf '%10s %10s' 'p512 cost' 'p64 cost')   ratio off/on:  $(printf '%-15s %-15s %-15s' 'sampling' 'raw' 'real')   verdict (sampling; real)"
    say "$(printf '%-11s %11s %11s %11s  %10s %10s  %14s %-15s %-15s %-15s' '' 'sampling' 'Ir/req' '' '' '' '' 'p512 p64' 'p512 p64' 'p512 p64')"
    for l in "${CG_ROWS[@]}"; do
        row_spec "$l"
        row=$(printf '%-11s' "$ROW_NAME")
        for k in "${VARIANTS[@]}"; do
            r=$k.$ROW_RUN b=$k.$ROW_BASE
            IRQ[$k.$l]=$(awk -v x="${IR[$r]}" -v y="${IR[$b]}" -v n="$ROW_DIV" 'BEGIN {print (x - y) / n}')
            IRX[$k.$l]=$(awk -v x="${IR[$r]}" -v y="${IR[$b]}" -v cx="${CRON_IR[$r]:-0}" -v cy="${CRON_IR[$b]:-0}" -v n="$ROW_DIV" \
                'BEGIN {print ((x - cx) - (y - cy)) / n}')
            row="$row $(printf ' %11s' "$(fmt1 "${IRX[$k.$l]}")")"
        done
        c512=$(awk -v x="${IRX[p512.$l]}" -v y="${IRX[off.$l]}" 'BEGIN {printf "%+.2f%%", 100 * (x - y) / y}')
        c64=$(awk -v x="${IRX[p64.$l]}" -v y="${IRX[off.$l]}" 'BEGIN {printf "%+.2f%%", 100 * (x - y) / y}')
        s512=$(ratio "${IRX[off.$l]}" "${IRX[p512.$l]}" 4)
        s64=$(ratio "${IRX[off.$l]}" "${IRX[p64.$l]}" 4)
        w512=$(ratio "${IRQ[off.$l]}" "${IRQ[p512.$l]}" 4)
        w64=$(ratio "${IRQ[off.$l]}" "${IRQ[p64.$l]}" 4)
        e512=n/a e64=n/a
        if [ -n "${CRON_SHARE[p512]:-}" ] && [ "$l" != insert ]; then
            # sampling ratio x (1 - the cron's share of a core, measured at rest in part 1)
            e512=$(awk -v r="$s512" -v c="${CRON_SHARE[p512]}" 'BEGIN {printf "%.4f", r * (1 - c)}')
            e64=$(awk -v r="$s64" -v c="${CRON_SHARE[p64]}" 'BEGIN {printf "%.4f", r * (1 - c)}')
        fi
        FIG[cg.$l.p512]=$s512 FIG[cg.$l.p64]=$s64 FIG[est.$l.p512]=$e512 FIG[est.$l.p64]=$e64
        row="$row  $(printf '%10s %10s  %14s %-15s %-15s %-15s' "$c512" "$c64" '' "$s512 $s64" "$w512 $w64" "$e512 $e64")"
        row="$row $(cverdict "$s512" 0.99) / $(cverdict "$s64" 0.97); $(cverdict "$e512" 0.99) / $(cverdict "$e64" 0.97)"
        say "$row"
    done
    for base in empty idle; do
        row=$(printf '%-11s' "$base Ir")
        for k in "${VARIANTS[@]}"; do row="$row $(printf ' %11s' "${IR[$k.$base]}")"; done
        say "$row"
    done
    say ""
    say "The unwinder and the frame pointers (sampling Ir/request as above): p64g = on@64KiB with"
    say "jemalloc's own unwinder (libgcc, --memory-profiling-unwinder libgcc) instead of memkv's"
    say "frame-pointer walk; nofp = off, from a build without frame pointers (-DMEMKV_FRAME_POINTERS=OFF)."
    say "$(printf '%-11s %11s %11s %11s %11s  %14s %14s %14s' load off p64 p64g nofp 'off/p64' 'off/p64g' 'nofp/off')"
    for l in "${CG_ROWS[@]}"; do
        row_spec "$l"
        for k in p64g nofp; do
            IRX[$k.$l]=$(awk -v x="${IR[$k.$ROW_RUN]}" -v y="${IR[$k.$ROW_BASE]}" -v cx="${CRON_IR[$k.$ROW_RUN]:-0}" \
                -v cy="${CRON_IR[$k.$ROW_BASE]:-0}" -v n="$ROW_DIV" 'BEGIN {print ((x - cx) - (y - cy)) / n}')
        done
        FIG[cg.$l.p64g]=$(ratio "${IRX[off.$l]}" "${IRX[p64g.$l]}" 4)
        FIG[cg.$l.fp]=$(ratio "${IRX[nofp.$l]}" "${IRX[off.$l]}" 4)
        say "$(printf '%-11s %11s %11s %11s %11s  %14s %14s %14s' "$ROW_NAME" "$(fmt1 "${IRX[off.$l]}")" "$(fmt1 "${IRX[p64.$l]}")" \
            "$(fmt1 "${IRX[p64g.$l]}")" "$(fmt1 "${IRX[nofp.$l]}")" "${FIG[cg.$l.p64]}" "${FIG[cg.$l.p64g]}" "${FIG[cg.$l.fp]}")"
    done
    say "(off/p64: the cost of sampling at 64 KiB, as above; off/p64g: the same with libgcc's unwinder;"
    say " nofp/off: what keeping frame pointers costs with profiling off, 1.000 = nothing)"
    snaps=0
    for x in "${!SNAPS[@]}"; do [ "${SNAPS[$x]:-0}" = 0 ] || snaps=$((snaps + 1)); done
    if [ "$snaps" = 0 ]; then
        say "(no profiler snapshot ran during any callgrind run: the differences hold no snapshot work)"
    else
        say "(profiler snapshots ran during $snaps callgrind run(s):$(for x in "${!SNAPS[@]}"; do [ "${SNAPS[$x]}" = 0 ] || printf ' %s=%s' "$x" "${SNAPS[$x]}"; done))"
    fi
    say "(verdict targets: >= 0.99 at 512 KiB, >= 0.97 at 64 KiB; callgrind counts are deterministic up"
    say " to the server cron's ticks, the event loop's batching of ready clients, redis-benchmark's random"
    say " keys and where the sampler's random intervals fall: a few tenths of a percent are within that)"
    say ""

    # Where the cost is: per function, (on run - on idle) - (off run - off idle), per request.
    say "Where the cost is, per function ((on run - on idle) - (off run - off idle), per request). These"
    say "lists include the profiler's cron (its memset, and jemalloc's statistics functions), which the"
    say "sampling figures above leave out; the sampling itself is the backtrace (libgcc's unwinder:"
    say "_Unwind_Backtrace, _Unwind_Find_FDE, _dl_find_object) and jemalloc's bookkeeping of the sample."
    say ""
    for pair in p64:off p512:off; do
        x=${pair%%:*} y=${pair##*:}
        for l in "new 16" insert; do
            row_spec "$l"
            cg_delta "$CG/callgrind.$x.$ROW_RUN.out" "$CG/callgrind.$x.$ROW_BASE.out" >"$CG/delta.x"
            cg_delta "$CG/callgrind.$y.$ROW_RUN.out" "$CG/callgrind.$y.$ROW_BASE.out" >"$CG/delta.y"
            total=$((${IR[$y.$ROW_RUN]} - ${IR[$y.$ROW_BASE]}))
            say "== $x vs $y, $ROW_NAME: top $TOP functions whose self Ir/request grew ($x - $y; % of $y's Ir/request)"
            CG_DIV=$ROW_DIV cg_top "$TOP" "$total" "$CG/delta.x" "$CG/delta.y" | tee -a "$REPORT"
            awk -F'\t' -v n="$ROW_DIV" 'FILENAME == ARGV[1] {b[$2] = $1; next}
                {d = $1 - b[$2]; delete b[$2]; if (d > 0) up += d; else down += d}
                END {for (k in b) {d = -b[k]; if (d > 0) up += d; else down += d}
                     printf "  (all functions: %+.1f grew, %+.1f shrank, net %+.1f Ir/request)\n", up / n, down / n, (up + down) / n}' \
                "$CG/delta.y" "$CG/delta.x" | tee -a "$REPORT"
            say ""
        done
    done
    say "callgrind outputs kept in ${CG_KEEP#"$REPO"/}/ (callgrind_annotate --inclusive=yes FILE)"
    say ""
fi

# ---------------------------------------------------------------------------------------------
# 3. Event-loop stalls during dumps
if [ "$SKIP_STALL" != 1 ]; then
    STALLPY=$TMP/stall.py
    cat >"$STALLPY" <<'EOF'
"""Helpers of profiler.sh's stall measurement: preload, probe (timed round trips), dumper, stats."""
import array, bisect, http.client, os, socket, sys, time

now = time.monotonic_ns  # CLOCK_MONOTONIC: comparable between processes


def resp(*args):
    a = [x if isinstance(x, bytes) else str(x).encode() for x in args]
    return b"*%d\r\n" % len(a) + b"".join(b"$%d\r\n%s\r\n" % (len(x), x) for x in a)


def connect(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def gen(n, path):
    """n keys written by ten different commands (ten allocation call paths), values of 8..407
    bytes, and a DEBUG LEAK of 64..4063 bytes every 500 keys; prints the number of replies."""
    out, cnt = [], 0
    for i in range(n):
        k = b"pk:%08d" % i
        v = b"v" * (8 + (i * 37) % 400)
        m = i % 10
        c = [resp("SET", k, v), resp("SETEX", k, 100000, v), resp("PSETEX", k, 100000000, v),
             resp("MSET", k, v, k + b"b", v), resp("APPEND", k, v), resp("SETRANGE", k, 5, v),
             resp("GETSET", k, v), resp("SETNX", k, v), resp("INCRBYFLOAT", k, "1.5"),
             resp("SET", k, v, "EX", 100000)][m]
        out.append(c)
        cnt += 1
        if i % 500 == 0:
            out.append(resp("DEBUG", "LEAK", 64 + i % 4000, 1))
            cnt += 1
    with open(path, "wb") as f:
        f.write(b"".join(out))
    print(cnt)


def read_reply(f):
    line = f.readline()
    if line[:1] == b"$":
        n = int(line[1:])
        data = f.read(n + 2)
        if len(data) != n + 2:
            raise SystemExit("short bulk reply")
        return data[:-2]
    raise SystemExit("unexpected reply: %r" % line[:300])


def probe(port, kind, secs, out, pause_us="0"):
    s = connect(port)
    pause = float(pause_us) / 1e6
    recv, send = s.recv, s.sendall
    a = array.array("q")
    end = now() + int(float(secs) * 1e9)
    pid, i = os.getpid(), 0
    if kind == "ping":
        req, want = b"*1\r\n$4\r\nPING\r\n", b"+PONG\r\n"
    else:
        val, val3, want = b"v" * 100, b"v" * 300, b"+OK\r\n"
    while True:
        if kind == "set":
            # 1000 keys rewritten with values of 100 and 300 bytes in turn: every SET allocates
            # (the entry is rebuilt at its new size) and is sampled, but the key space does not
            # grow, so no doubling of the key table (a large calloc) falls into a phase.
            req = resp("SET", b"probe:%d:%d" % (pid, i % 1000), val if (i // 1000) % 2 else val3)
        t0 = now()
        send(req)
        buf = recv(64)
        while len(buf) < len(want):
            more = recv(64)
            if not more:
                raise SystemExit("connection closed")
            buf += more
        t1 = now()
        if buf != want:
            raise SystemExit("unexpected reply: %r" % buf)
        a.append(t0)
        a.append(t1 - t0)
        i += 1
        if t1 >= end:
            break
        if pause:
            time.sleep(pause)
    with open(out, "wb") as f:
        a.tofile(f)


def dumper(port, mport, secs, pause_ms, out):
    s = connect(port)
    f = s.makefile("rb")
    h = http.client.HTTPConnection("127.0.0.1", int(mport), timeout=120)
    end = now() + int(float(secs) * 1e9)
    kinds = ["SVG", "PPROF", "HTTP"]
    lines, i = [], 0
    while now() < end:
        k = kinds[i % len(kinds)]
        i += 1
        t0 = now()
        if k == "HTTP":
            h.request("GET", "/debug/pprof/heap")
            r = h.getresponse()
            body = r.read()
            if r.status != 200:
                raise SystemExit("GET /debug/pprof/heap: %d %r" % (r.status, body[:200]))
        else:
            s.sendall(resp("MEMORY", "PROFILE", "DUMP", k))
            body = read_reply(f)
        t1 = now()
        ok = body[:2] == b"\x1f\x8b" if k != "SVG" else b"<svg" in body[:400]
        if not ok:
            raise SystemExit("%s dump is not what it should be: %r" % (k, body[:100]))
        lines.append("%s %d %d %d\n" % (k, t0, t1, len(body)))
        time.sleep(float(pause_ms) / 1000)
    with open(out, "w") as fo:
        fo.writelines(lines)


def rawstats(port):
    s = connect(port)
    f = s.makefile("rb")
    s.sendall(resp("MEMORY", "PROFILE", "DUMP", "RAW"))
    body = read_reply(f).decode("utf-8", "replace").splitlines()
    stacks = sum(1 for x in body if x.startswith("@"))
    tot = next((x for x in body if x.strip().startswith("t*:")), "t*: 0: 0").split()
    print("stacks=%d samples=%s sampled_bytes=%s" % (stacks, tot[1].rstrip(":"), tot[2]))


def q(xs, p):  # nearest rank, xs sorted
    return xs[min(len(xs) - 1, max(0, -(-len(xs) * p // 1000) - 1))]


def stats(prefix, rtts):
    xs = sorted(rtts)
    if not xs:
        return "%s_n=0 %s_p50=0 %s_p99=0 %s_p999=0 %s_max=0 %s_over1ms=0" % ((prefix,) * 6)
    return "%s_n=%d %s_p50=%.1f %s_p99=%.1f %s_p999=%.1f %s_max=%.1f %s_over1ms=%d" % (
        prefix, len(xs), prefix, q(xs, 500) / 1e3, prefix, q(xs, 990) / 1e3, prefix,
        q(xs, 999) / 1e3, prefix, xs[-1] / 1e3, prefix, sum(1 for x in xs if x > 1000000))


def analyze(*runs):
    """Each run is PROBEFILE or PROBEFILE,DUMPFILE (the repeats of one phase). key=value on one
    line, times in microseconds: all round trips, those that overlapped a dump (in_) and the
    others (out_); dump counts, share of the time with a dump in progress, durations (ms) and
    sizes per kind."""
    rts, inside, outside, per = [], [], [], {}
    ndumps, busy, span = 0, 0, 0
    for run in runs:
        probefile, _, dumpfile = run.partition(",")
        a = array.array("q")
        with open(probefile, "rb") as f:
            a.frombytes(f.read())
        ts, rt = a[0::2], a[1::2]
        rts.extend(rt)
        if not dumpfile:
            continue
        iv = []
        for line in open(dumpfile):
            k, t0, t1, n = line.split()
            iv.append((int(t0), int(t1)))
            per.setdefault(k, []).append(((int(t1) - int(t0)) / 1e6, int(n)))
        iv.sort()
        merged = []
        for s0, s1 in iv:
            if merged and s0 <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], s1)
            else:
                merged.append([s0, s1])
        starts = [m[0] for m in merged]
        for t0, r in zip(ts, rt):
            j = bisect.bisect_right(starts, t0 + r) - 1  # last dump starting before the ping ended
            (inside if j >= 0 and merged[j][1] >= t0 else outside).append(r)
        ndumps += len(iv)
        busy += sum(m[1] - m[0] for m in merged)
        span += (ts[-1] + rt[-1] - ts[0]) if len(ts) else 0
    out = [stats("all", rts)]
    if per:
        out += [stats("in", inside), stats("out", outside)]
        out.append("dumps=%d dump_busy=%.3f" % (ndumps, busy / span if span else 0))
        for k, v in sorted(per.items()):
            d = sorted(x[0] for x in v)
            out.append("%s_count=%d %s_min=%.2f %s_med=%.2f %s_max=%.2f %s_bytes=%d" % (
                k, len(d), k, d[0], k, d[len(d) // 2], k, d[-1], k, max(x[1] for x in v)))
    print(" ".join(out))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"gen": lambda: gen(int(args[0]), args[1]),
     "probe": lambda: probe(int(args[0]), *args[1:]),
     "dumper": lambda: dumper(int(args[0]), args[1], args[2], args[3], args[4]),
     "rawstats": lambda: rawstats(int(args[0])),
     "analyze": lambda: analyze(*args)}[cmd]()
EOF

    SERVER_BIN[stall]=$MEMKV
    SERVER_ARGS[stall]="--metrics-port auto --memory-profiling-enabled yes --memory-profiling-sample-bytes $STALL_SAMPLE --memory-profiling-snapshot-interval 0 --enable-debug-command yes"
    start_server stall plain
    ST_PID=$SRV_PID ST_PORT=$SRV_PORT
    ST_MPORT=$(sed -n 's/^metrics_port=//p' "$TMP/stall.$SRV_N.ready")
    if [ -z "$ST_MPORT" ] || [ "$ST_MPORT" = 0 ]; then die "no metrics_port in the stall server's ready file"; fi
    [ "$(info_field "$ST_PORT" memory memkv_profiling_active)" = 1 ] || die "stall server: profiling is not active"
    [ "$(info_field "$ST_PORT" memory memkv_profiling_sample_bytes)" = "$STALL_SAMPLE" ] || die "stall server: sample bytes not $STALL_SAMPLE"
    log "stall: loading $STALL_KEYS keys (10 commands, DEBUG LEAK every 500 keys) at $STALL_SAMPLE-byte sampling"
    nrep=$("$PY" "$STALLPY" gen "$STALL_KEYS" "$TMP/stall.resp")
    load_pipe "$ST_PORT" "$TMP/stall.resp" "$nrep"
    ST_RAW=$("$PY" "$STALLPY" rawstats "$ST_PORT")
    ST_KEYS=$(dbsize "$ST_PORT")
    ST_USED=$(used_memory "$ST_PORT")
    ST_OWN=$(info_field "$ST_PORT" memory memkv_profiling_own_memory)
    log "stall server: $ST_KEYS keys, used_memory $ST_USED, profile $ST_RAW"

    declare -A ST RUNS WAITNS CPUNS WALLNS # per phase: analysis; runs; main thread's schedstat
    # pin_server on|off: on = the event loop (main thread) alone on CPU 1 (the probe joins it; the
    # two take turns), every other thread of the server (profiler worker, HTTP, jemalloc) on CPU 0
    # with the dumper; off = all CPUs for all.
    # rt = on, and the main thread runs SCHED_FIFO (chrt), so no other task of the host can take
    # CPU 1 from it: what is left of a stall is the server's own doing (or the kernel's).
    pin_server() {
        local t all="0-$(($(nproc) - 1))"
        for t in /proc/"$ST_PID"/task/*; do
            t=${t##*/}
            if [ "$1" = off ]; then
                taskset -p -c "$all" "$t" >/dev/null
            elif [ "$t" = "$ST_PID" ]; then
                taskset -p -c 1 "$t" >/dev/null
            else
                taskset -p -c 0 "$t" >/dev/null
            fi
        done
        if [ "$1" = rt ]; then
            chrt -f -p "$RT_PRIO" "$ST_PID" >/dev/null
        else
            chrt -o -p 0 "$ST_PID" >/dev/null
        fi
    }
    # main_sched: "cpu_ns wait_ns" of the server's main thread (schedstat: time on a CPU, time
    # runnable but waiting for one)
    declare -A LOOPMAX
    main_sched() { awk '{print $1, $2}' "/proc/$ST_PID/task/$ST_PID/schedstat"; }
    # phase NAME PROBE DUMPS(0|1) REPEAT PIN(0|1): STALL_SECONDS of the probe loop, dumper or not
    phase() {
        local name=$1 probe=$2 dumps=$3 rep=$4 pin=$5 ppid dpid="" f=$TMP/$1.$4 c0 w0 c1 w1 t0 t1
        local pp=() pd=() pause=0
        if [ "$pin" = 1 ]; then pp=(taskset -c 1) pd=(taskset -c 0); fi
        # SCHED_FIFO probe: it pauses between round trips, or the two real-time tasks would fill
        # CPU 1 and the kernel's RT throttling (sched_rt_runtime_us) would stop them both.
        if [ "$pin" = 2 ]; then pp=(chrt -f "$RT_PRIO" taskset -c 1) pd=(taskset -c 0) pause=$RT_PROBE_PAUSE_US; fi
        log "stall: $name $rep/$STALL_REPEATS (probe $probe, dumps $([ "$dumps" = 1 ] && echo yes || echo no), $STALL_SECONDS s)"
        # The server's own measure of its longest event-loop turn (INFO stats
        # memkv_eventloop_max_busy_usec, since RESETSTAT): free of the probe's scheduling noise.
        redis-cli -p "$ST_PORT" config resetstat >/dev/null
        read -r c0 w0 < <(main_sched)
        t0=$(date +%s%N)
        "${pp[@]}" "$PY" "$STALLPY" probe "$ST_PORT" "$probe" "$STALL_SECONDS" "$f.probe" "$pause" &
        ppid=$!
        PIDS+=("$ppid")
        if [ "$dumps" = 1 ]; then
            "${pd[@]}" "$PY" "$STALLPY" dumper "$ST_PORT" "$ST_MPORT" "$STALL_SECONDS" "$DUMP_PAUSE_MS" "$f.dumps" &
            dpid=$!
            PIDS+=("$dpid")
        fi
        wait "$ppid" || die "stall probe ($name) failed"
        if [ -n "$dpid" ]; then wait "$dpid" || die "stall dumper ($name) failed"; fi
        t1=$(date +%s%N)
        read -r c1 w1 < <(main_sched)
        CPUNS[$name]=$((${CPUNS[$name]:-0} + c1 - c0))
        WAITNS[$name]=$((${WAITNS[$name]:-0} + w1 - w0))
        WALLNS[$name]=$((${WALLNS[$name]:-0} + t1 - t0))
        redis-cli -p "$ST_PORT" ping | grep -q PONG || die "stall server does not answer after $name"
        local lm
        lm=$(info_field "$ST_PORT" stats memkv_eventloop_max_busy_usec)
        if [ "${lm:-0}" -gt "${LOOPMAX[$name]:-0}" ]; then LOOPMAX[$name]=$lm; fi
        if [ "$dumps" = 1 ]; then
            RUNS[$name]="${RUNS[$name]:-} $f.probe,$f.dumps"
        else
            RUNS[$name]="${RUNS[$name]:-} $f.probe"
        fi
    }
    # Interleaved: every repeat runs every phase, so that drifts of this host's load fall on all
    # of them alike. Pinned phases only with 2 CPUs or more.
    # Real-time phases only where chrt is allowed (root, or RLIMIT_RTPRIO).
    PIN_MODES=(0)
    if [ "$(nproc)" -ge 2 ]; then
        PIN_MODES=(0 1)
        if chrt -f "$RT_PRIO" true 2>/dev/null; then
            PIN_MODES+=(2)
        else
            log "stall: chrt -f is not allowed here: no real-time phases"
        fi
    fi
    pin_sfx() { case $1 in 1) echo -pin ;; 2) echo -rt ;; *) echo "" ;; esac; }
    pin_label() { case $1 in 1) echo "pinned" ;; 2) echo "pinned+RT" ;; *) echo "unpinned" ;; esac; }
    PHASES=()
    for pin in "${PIN_MODES[@]}"; do
        sfx=$(pin_sfx "$pin")
        PHASES+=("ping-base$sfx" "ping-dump$sfx" "set-base$sfx" "set-dump$sfx")
    done
    for rep in $(seq 1 "$STALL_REPEATS"); do
        for pin in "${PIN_MODES[@]}"; do
            sfx=$(pin_sfx "$pin")
            case $pin in 1) pin_server on ;; 2) pin_server rt ;; *) pin_server off ;; esac
            phase "ping-base$sfx" ping 0 "$rep" "$pin"
            phase "ping-dump$sfx" ping 1 "$rep" "$pin"
            phase "set-base$sfx" set 0 "$rep" "$pin"
            phase "set-dump$sfx" set 1 "$rep" "$pin"
        done
    done
    pin_server off
    for name in "${PHASES[@]}"; do
        # shellcheck disable=SC2086 # the runs are blank-separated file names without blanks
        kv=$("$PY" "$STALLPY" analyze ${RUNS[$name]})
        for key in $kv; do
            ST[$name.${key%%=*}]=${key#*=}
        done
    done
    ST_LOAD=$(host_load)
    ST_CAP=$(info_field "$ST_PORT" memory memkv_profiling_cap)
    ST_DUMPS=$(info_field "$ST_PORT" memory memkv_profiling_dumps)
    stop_server "$ST_PID" "$ST_PORT"

    say "== Longest event-loop turn, measured by the server itself (INFO memkv_eventloop_max_busy_usec)"
    for k in $(printf '%s\n' "${!LOOPMAX[@]}" | sort); do
        say "$(printf '  %-24s %8s µs' "$k" "${LOOPMAX[$k]}")"
    done
    say "  (phases with \"dump\" in their name had dumps running; target: <= 1000 µs)"
    say ""
    say "== Event-loop stall seen by a concurrent client during dumps (target: <= 1 ms)"
    say "   Server: profiling on at $STALL_SAMPLE-byte sampling, snapshots off; $ST_KEYS keys written by 10"
    say "   commands (SET, SETEX, PSETEX, MSET, APPEND, SETRANGE, GETSET, SETNX, INCRBYFLOAT, SET EX) and a"
    say "   DEBUG LEAK every 500 keys; used_memory $ST_USED bytes; profile: $ST_RAW;"
    say "   profiler's own memory $ST_OWN bytes, cap: $ST_CAP. (memkv's allocations come from few call"
    say "   paths, so the profile has few stacks however many keys: the dumps stay small.)"
    say "   Probe: one client, a tight loop of PING (or SET over 1000 keys, values of 100 and 300 bytes in"
    say "   turn: each SET allocates and may be sampled; the key table never doubles), each round trip timed (/usr/bin/python3, raw socket, TCP_NODELAY), $STALL_SECONDS s a phase,"
    say "   all phases in turn, $STALL_REPEATS times (figures over the repeats)."
    say "   Dumper: another client, a dump every $DUMP_PAUSE_MS ms after the previous one's answer: MEMORY PROFILE"
    say "   DUMP SVG, DUMP PPROF, GET /debug/pprof/heap (HTTP port $ST_MPORT from the ready file), in turn."
    say "   \"during dumps\" = the round trips that overlapped a dump, \"between dumps\" = the others of the"
    say "   same phase; times in microseconds. \"loop wait\": time the event loop (main thread) spent"
    say "   runnable but waiting for a CPU, µs per second of the phase (schedstat)."
    say "   unpinned: as this $(nproc)-core host schedules: the main thread, the profiler worker, the HTTP threads,"
    say "   the probe and the dumper share the cores. pinned: the main thread and the probe (which take"
    say "   turns) on CPU 1, everything else (worker, HTTP, jemalloc threads, dumper) on CPU 0: what a"
    say "   dump does to the event loop itself, without the competition for a core. pinned+RT: the same"
    say "   with the main thread and the probe SCHED_FIFO (priority $RT_PRIO; the probe pauses $RT_PROBE_PAUSE_US µs between"
    say "   round trips): no other task of the host can delay them; what stalls remain are the server's."
    say "$(printf '%-34s %9s %8s %8s %8s %9s %6s %10s' phase 'requests' p50 p99 p99.9 max '>1ms' 'loop wait')"
    strow() {
        local ph=$1 sub=$2 label=$3 lw="(same)"
        [ "$sub" = out ] || lw=$(awk -v w="${WAITNS[$ph]}" -v t="${WALLNS[$ph]}" 'BEGIN {printf "%.0f", w / t * 1e6 / 1000}')
        say "$(printf '%-34s %9s %8s %8s %8s %9s %6s %10s' "$label" "${ST[$ph.${sub}_n]}" "${ST[$ph.${sub}_p50]}" \
            "${ST[$ph.${sub}_p99]}" "${ST[$ph.${sub}_p999]}" "${ST[$ph.${sub}_max]}" "${ST[$ph.${sub}_over1ms]}" "$lw")"
    }
    for pin in "${PIN_MODES[@]}"; do
        sfx=$(pin_sfx "$pin") lab=$(pin_label "$pin")
        strow "ping-base$sfx" all "$lab: PING, no dumps"
        strow "ping-dump$sfx" in "$lab: PING, during dumps"
        strow "ping-dump$sfx" out "$lab: PING, between dumps"
        strow "set-base$sfx" all "$lab: SET, no dumps"
        strow "set-dump$sfx" in "$lab: SET, during dumps"
        strow "set-dump$sfx" out "$lab: SET, between dumps"
    done
    say "dumps (durations in ms, request to last byte, as the dumping client sees them; size in bytes):"
    for name in "${PHASES[@]}"; do
        case $name in *-dump*) ;; *) continue ;; esac
        say "  during the $name phases: ${ST[$name.dumps]} dumps, a dump in progress $(awk -v b="${ST[$name.dump_busy]}" 'BEGIN {printf "%.0f", 100 * b}')% of the time"
        for k in SVG PPROF HTTP; do
            say "$(printf '    %-6s %5s dumps  min %7s  median %7s  max %7s  size %8s' "$k" "${ST[$name.${k}_count]}" \
                "${ST[$name.${k}_min]}" "${ST[$name.${k}_med]}" "${ST[$name.${k}_max]}" "${ST[$name.${k}_bytes]}")"
        done
    done
    say "(host after the phases: $ST_LOAD; memkv_profiling_dumps at the end: $ST_DUMPS)"
    say "(a round trip can also wait for a core, or for the host: the baselines have their own maxima;"
    say " compare the rows, and the loop-wait column)"
    for pin in "${PIN_MODES[@]}"; do
        sfx=$(pin_sfx "$pin")
        for p in ping set; do
            v=$(awk -v m="${ST[$p-dump$sfx.in_max]}" 'BEGIN {print (m <= 1000 ? "meets (<=1 ms)" : "MISSES (<=1 ms)")}')
            FIG[stall.$p$sfx]="max ${ST[$p-dump$sfx.in_max]} µs, p99.9 ${ST[$p-dump$sfx.in_p999]}, p99 ${ST[$p-dump$sfx.in_p99]} (no dumps: max ${ST[$p-base$sfx.all_max]}, p99.9 ${ST[$p-base$sfx.all_p999]}, p99 ${ST[$p-base$sfx.all_p99]}) $v"
        done
    done
    say "longest stall during dumps, unpinned: PING ${FIG[stall.ping]}"
    say "                                      SET  ${FIG[stall.set]}"
    if [ -n "${FIG[stall.ping-pin]:-}" ]; then
        say "                          pinned:   PING ${FIG[stall.ping-pin]}"
        say "                                      SET  ${FIG[stall.set-pin]}"
    fi
    if [ -n "${FIG[stall.ping-rt]:-}" ]; then
        say "                          pinned+RT: PING ${FIG[stall.ping-rt]}"
        say "                                      SET  ${FIG[stall.set-rt]}"
    fi
    say ""
fi

# ---------------------------------------------------------------------------------------------
say "== Summary: throughput ratios (1.000 = no cost)"
say "   tput: on/off ops/s, medians (noise ±20%); Ir: off/on instructions per request without the"
say "   profiler's cron (the sampling); real: Ir x (1 - the cron's share of a core at rest)"
say "$(printf '%-11s %10s %10s %10s %10s %10s %10s' load 'tput 512K' 'tput 64K' 'Ir 512K' 'Ir 64K' 'real 512K' 'real 64K')"
for l in "${PLOADS[@]}" insert; do
    if [ "$l" = insert ]; then nm=INSERT; else nm=$(pload_name "$l"); fi
    say "$(printf '%-11s %10s %10s %10s %10s %10s %10s' "$nm" "${FIG[tp.$l.p512]:--}" "${FIG[tp.$l.p64]:--}" \
        "${FIG[cg.$l.p512]:--}" "${FIG[cg.$l.p64]:--}" "${FIG[est.$l.p512]:--}" "${FIG[est.$l.p64]:--}")"
done
if [ -n "${CRON_SHARE[p512]:-}" ]; then
    say "profiler's cron at rest: p512 $(awk -v x="${CRON_SHARE[p512]}" 'BEGIN {printf "%.3f", 100 * x}')%, p64 $(awk -v x="${CRON_SHARE[p64]}" 'BEGIN {printf "%.3f", 100 * x}')% of a core"
fi
say "targets: >= 0.99 at 512 KiB, >= 0.97 at 64 KiB"
if [ -n "${FIG[cg.new 16.p64g]:-}" ]; then
    say "Ir 64K with libgcc's unwinder instead of the frame-pointer walk: $(for l in "${CG_ROWS[@]}"; do row_spec "$l"; printf '%s %s; ' "$ROW_NAME" "${FIG[cg.$l.p64g]}"; done)"
    say "frame pointers' cost, profiling off (nofp/off Ir): $(for l in "${CG_ROWS[@]}"; do row_spec "$l"; printf '%s %s; ' "$ROW_NAME" "${FIG[cg.$l.fp]}"; done)"
fi
if [ -n "${FIG[stall.ping]:-}" ]; then
    say "stall during dumps (µs), PING probe:         ${FIG[stall.ping]}"
    say "                         SET probe:          ${FIG[stall.set]}"
    if [ -n "${FIG[stall.ping-pin]:-}" ]; then
        say "                         PING probe, pinned: ${FIG[stall.ping-pin]}"
        say "                         SET probe, pinned:  ${FIG[stall.set-pin]}"
    fi
    if [ -n "${FIG[stall.ping-rt]:-}" ]; then
        say "                         PING probe, pin+RT: ${FIG[stall.ping-rt]}"
        say "                         SET probe, pin+RT:  ${FIG[stall.set-rt]}"
    fi
fi
say "total time: $(($(date +%s) - T0)) s"
bench_finish
