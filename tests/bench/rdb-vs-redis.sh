#!/usr/bin/env bash
# memkv vs Redis, RDB snapshots (issue 17, "Benchmark"). Not a test.
#
#   bash tests/bench/rdb-vs-redis.sh              # 1M keys
#   KEYS=100000 ROUNDS=1 bash tests/bench/rdb-vs-redis.sh   # a quick look
#
# One data set of KEYS keys of mixed types (tests/bench/rdb_bench.py gen: small and large
# strings, integers, hashes, lists, sets and sorted sets in their small (listpack, intset) and
# big (hashtable, skiplist, several quicklist nodes) encodings, a TTL on one key in ten) is
# generated once as a redis-cli --pipe file and loaded into a fresh memkv-server and a fresh
# redis-server (Debian's); each SAVEs it, and that file is the start of every round. A round,
# for each server in turn (the order alternates between rounds), one server running at a time:
#   1. start-up with no file, then start-up with the file in place: wall time from the start of
#      the process to the first PONG (Redis answers -LOADING until it has loaded; memkv does not
#      listen before), and the load time is the difference;
#   2. SAVE (foreground, wall time as the client sees it) and the file's size; then an idle
#      BGSAVE, from BGSAVE to rdb_bgsave_in_progress:0 with rdb_saves counted up;
#   3. BGSAVE under a write load: two redis-benchmark at full speed (-P 16, CLIENTS_W clients
#      each), SET on the small-string keys and HSET on the small-hash keys, random keys of the
#      data set; the memory of the server process and of its children (Redis's fork) is sampled
#      from /proc/PID/smaps_rollup from just before BGSAVE to its end. The extra memory is the
#      peak of the summed PSS minus the PSS before: the physical memory the save costs (a page
#      the fork's child shares with its parent counts once). The summed RSS (counts a shared
#      page twice: an upper bound) and, for Redis, the peak Private_Dirty of the child (the
#      pages copy-on-write duplicated; what Redis's current_cow_size reports) are printed too.
#      memkv does not fork: its extra is one process's growth, printed with the snapshot
#      subsystem's peak (INFO memory memkv_subsystem_snapshot, sampled, and rdb_last_cow_size)
#      and the bgsave-max-memory budget.
# Medians of the ROUNDS rounds, ratios memkv/redis, and the issue's targets: SAVE, BGSAVE and
# load time <= 1.0x Redis's, extra memory during BGSAVE under writes <= 0.25x Redis's.
# Results go to stdout and tests/bench/results/rdb-vs-redis-<date>.txt (gitignored).
#
# Environment:
#   KEYS=1000000        keys in the data set (KEYS=100000: the quick mode)
#   ROUNDS=3            rounds, interleaved memkv/redis, medians taken
#   CLIENTS_W=2         connections of each of the two write loads
#   WARMUP=1            seconds of write load before BGSAVE (the "before" sample is taken then)
#   SAMPLE_MS=20        memory sampling interval during BGSAVE
#   TIMEOUT=900         seconds any one save or start-up may take
#   MEMKV_SERVER=path   use this binary instead of building build-bench (Release)
#   MEMKV_ARGS="..."    extra arguments of memkv-server (e.g. "--bgsave-slice-us 2000")
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"

KEYS=${KEYS:-1000000}
ROUNDS=${ROUNDS:-3}
CLIENTS_W=${CLIENTS_W:-2}
WARMUP=${WARMUP:-1}
SAMPLE_MS=${SAMPLE_MS:-20}
TIMEOUT=${TIMEOUT:-900}
MEMKV_ARGS=${MEMKV_ARGS:-}

BENCH_NAME=rdb-vs-redis
# shellcheck source=tests/bench/lib.sh
. "$REPO/tests/bench/lib.sh"

if [ -n "${MEMKV_SERVER:-}" ]; then NO_BUILD=1; fi
need_tools
use_memkv MEMKV MEMKV_SERVER build-bench
bench_init
HELPER=$REPO/tests/bench/rdb_bench.py
mkfifo "$TMP/nap"
exec {NAP_FD}<>"$TMP/nap"

# ---------------------------------------------------------------------------------------------
# Servers with a dir of their own and a known port (lib.sh's start_server has no dir for memkv
# and no file to load). srv_cmd KIND PORT DIR -> SRV_CMD (array).
srv_cmd() {
    local extra=()
    if [ "$1" = redis ]; then
        SRV_CMD=(redis-server --port "$2" --bind 127.0.0.1 --dir "$3" --dbfilename dump.rdb
            --save '' --appendonly no --daemonize no)
    else
        read -r -a extra <<<"$MEMKV_ARGS"
        SRV_CMD=("$MEMKV" --port "$2" --bind 127.0.0.1 --metrics-port 0 --dir "$3"
            --dbfilename dump.rdb --save '' "${extra[@]}")
    fi
}

# ping_ok PORT: one PING over bash's /dev/tcp (no process started: the poll costs well under a
# millisecond); true on +PONG, false on no listener or -LOADING.
ping_ok() {
    local reply=""
    { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
    printf 'PING\r\n' >&3
    IFS= read -r -t 5 reply <&3 || true
    exec 3>&-
    [ "${reply%$'\r'}" = "+PONG" ]
}

# nap: sleep 2 ms without starting a process (a read that times out on a fifo nobody writes;
# on a loaded machine, starting sleep(1) costs tens of milliseconds)
nap() { read -r -t 0.002 -u "$NAP_FD" _ || true; }

# cpu_s PID: CPU seconds of the process (all threads) and of the children it reaped
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{sub(/.*\) /, ""); printf "%.2f", ($12 + $13 + $14 + $15) / hz}' "/proc/$1/stat"; }

# start_timed KIND DIR -> SRV_PID SRV_PORT START_S (seconds from the process's start to PONG),
# START_CPU (its CPU seconds then)
start_timed() {
    local kind=$1 dir=$2 t0 t1 i=0
    SRV_PORT=$(free_port)
    SRV_LOG=$TMP/$kind.log
    srv_cmd "$kind" "$SRV_PORT" "$dir"
    t0=$(date +%s.%N)
    "${SRV_CMD[@]}" </dev/null >>"$SRV_LOG" 2>&1 &
    SRV_PID=$!
    PIDS+=("$SRV_PID")
    until ping_ok "$SRV_PORT"; do
        kill -0 "$SRV_PID" 2>/dev/null || { tail -n 20 "$SRV_LOG" >&2; die "$kind exited during start-up"; }
        i=$((i + 1))
        [ "$i" -lt $((TIMEOUT * 500)) ] || die "$kind did not answer PING within $TIMEOUT s"
        nap
    done
    t1=$(date +%s.%N)
    START_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.4f", b - a}')
    START_CPU=$(cpu_s "$SRV_PID")
    [ "$(info_field "$SRV_PORT" persistence loading)" = 0 ] || die "$kind answered PONG while loading"
}

# ---------------------------------------------------------------------------------------------
T0=$(date +%s)
say "memkv vs Redis, RDB snapshots — $(date '+%Y-%m-%d %H:%M:%S %z')"
say "memkv:  $MEMKV (commit $(memkv_commit))${MEMKV_ARGS:+ $MEMKV_ARGS}"
say "redis:  $(redis-server --version)"
say "host:   $(nproc) cores, $(uname -sr); KEYS=$KEYS ROUNDS=$ROUNDS CLIENTS_W=$CLIENTS_W WARMUP=$WARMUP SAMPLE_MS=$SAMPLE_MS"
say ""

log "generating the data set ($KEYS keys)"
DATA=$TMP/data.resp
eval "$("$PY" "$HELPER" gen "$DATA" "$KEYS")"
: "${NCMDS:?} ${N_STR:?} ${N_HASH:?} ${NEXPIRES:?}"

# Load it into a fresh server of each kind and SAVE: that file starts every round.
declare -A USED RSS
for kind in memkv redis; do
    mkdir -p "$TMP/$kind.d"
    start_timed "$kind" "$TMP/$kind.d"
    log "loading the data set into $kind ($NCMDS commands)"
    load_pipe "$SRV_PORT" "$DATA" "$NCMDS"
    [ "$(dbsize "$SRV_PORT")" = "$KEYS" ] || die "$kind: DBSIZE $(dbsize "$SRV_PORT") != $KEYS"
    nexp=$(redis-cli -p "$SRV_PORT" info keyspace | tr -d '\r' | sed -n 's/^db0:.*expires=\([0-9]*\).*/\1/p')
    [ "$nexp" = "$NEXPIRES" ] || die "$kind: $nexp keys with a TTL, not $NEXPIRES"
    sleep 1
    USED[$kind]=$(used_memory "$SRV_PORT")
    RSS[$kind]=$(rss_bytes "$SRV_PID")
    redis-cli -p "$SRV_PORT" save >/dev/null
    mv "$TMP/$kind.d/dump.rdb" "$TMP/$kind.canon.rdb"
    stop_server "$SRV_PID" "$SRV_PORT"
done
rm -f "$DATA"
mb() { awk -v a="$1" 'BEGIN {printf "%.1f", a / 1048576}'; }
say "data set: $KEYS keys ($NEXPIRES with a TTL; $N_STR small strings and $N_HASH small hashes take the writes)"
say "  used_memory: memkv $(mb "${USED[memkv]}") MB, redis $(mb "${USED[redis]}") MB; RSS: memkv $(mb "${RSS[memkv]}") MB, redis $(mb "${RSS[redis]}") MB"
say ""

# ---------------------------------------------------------------------------------------------
# Rounds. R[kind.figure] = the figures of every round, blank-separated.
declare -A R
add() { R[$1.$2]="${R[$1.$2]:-} $3"; }
round_of() { # round_of KIND ROUND
    local kind=$1 r=$2 dir=$TMP/$1.d start0 cpu0
    rm -rf "$dir"
    mkdir -p "$dir"
    start_timed "$kind" "$dir"
    start0=$START_S cpu0=$START_CPU
    stop_server "$SRV_PID" "$SRV_PORT"
    cp "$TMP/$kind.canon.rdb" "$dir/dump.rdb"
    start_timed "$kind" "$dir"
    [ "$(dbsize "$SRV_PORT")" = "$KEYS" ] || die "$kind: DBSIZE $(dbsize "$SRV_PORT") != $KEYS after loading"
    add "$kind" empty "$start0"
    add "$kind" start "$START_S"
    add "$kind" load "$(awk -v a="$START_S" -v b="$start0" 'BEGIN {printf "%.4f", a - b}')"
    add "$kind" load_cpu "$(awk -v a="$START_CPU" -v b="$cpu0" 'BEGIN {printf "%.2f", a - b}')"
    log "round $r $kind: start-up empty ${start0}s, with the file ${START_S}s; SAVE, BGSAVE"
    local SAVE_S SAVE_CPU SIZE BGSAVE_S BGSAVE_CPU BG_SIZE
    eval "$("$PY" "$HELPER" saves "$SRV_PORT" "$SRV_PID" "$dir")"
    add "$kind" save "$SAVE_S"
    add "$kind" save_cpu "$SAVE_CPU"
    add "$kind" bgsave_cpu "$BGSAVE_CPU"
    add "$kind" size "$SIZE"
    add "$kind" bgsave "$BGSAVE_S"
    add "$kind" bgsize "$BG_SIZE"
    log "round $r $kind: SAVE ${SAVE_S}s ($(mb "$SIZE") MB), BGSAVE ${BGSAVE_S}s; BGSAVE under writes"
    local BGL_S BGL_OPS RSS0 PSS0 RSS_PEAK PSS_PEAK CHILD_PD_PEAK NCHILD SNAP_PEAK COW_LAST
    eval "$("$PY" "$HELPER" bgload "$SRV_PORT" "$SRV_PID" "$N_STR" "$N_HASH" "$CLIENTS_W" "$WARMUP" "$SAMPLE_MS" "$TIMEOUT")"
    add "$kind" bgl_s "$BGL_S"
    add "$kind" bgl_ops "$BGL_OPS"
    add "$kind" x_pss $((PSS_PEAK - PSS0))
    add "$kind" x_rss $((RSS_PEAK - RSS0))
    add "$kind" child_pd "$CHILD_PD_PEAK"
    add "$kind" snap "$SNAP_PEAK"
    add "$kind" cow "$COW_LAST"
    add "$kind" pss0 "$PSS0"
    if [ "$kind" = memkv ]; then BGMAX=$(redis-cli -p "$SRV_PORT" config get bgsave-max-memory | tr -d '\r' | sed -n 2p); fi
    if [ "$kind" = redis ] && [ "$NCHILD" = 0 ]; then die "redis: no forked child seen during BGSAVE"; fi
    log "round $r $kind: BGSAVE under writes ${BGL_S}s, $(fmt0 "$BGL_OPS") writes/s, extra PSS $(mb $((PSS_PEAK - PSS0))) MB, RSS $(mb $((RSS_PEAK - RSS0))) MB"
    stop_server "$SRV_PID" "$SRV_PORT"
}

for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then order=(memkv redis); else order=(redis memkv); fi
    for kind in "${order[@]}"; do round_of "$kind" "$r"; done
done

# ---------------------------------------------------------------------------------------------
med() { read -r -a _xs <<<"${R[$1.$2]}"; median "${_xs[@]}"; }
range() { read -r -a _xs <<<"${R[$1.$2]}"; echo "$(minof "${_xs[@]}")..$(maxof "${_xs[@]}")"; }
# row LABEL FIGURE UNIT TARGET: medians, ratio, the target's verdict (TARGET: "" none, lower,
# quarter), the ranges
row() {
    local label=$1 fig=$2 unit=$3 target=$4 a b q v
    a=$(med memkv "$fig") b=$(med redis "$fig")
    q=$(ratio "$a" "$b")
    case $target in
    lower) v=$(verdict "$q" lower) ;;
    quarter) v=$(awk -v r="$q" 'BEGIN {if (r == "n/a") print "n/a"; else print (r <= 0.25 ? "meets (<=0.25)" : "MISSES (<=0.25)")}') ;;
    *) v="" ;;
    esac
    if [ "$unit" = MB ]; then
        cv() { mb "$1"; }
    elif [ "$unit" = ops ]; then
        cv() { fmt0 "$1"; }
    else
        cv() { awk -v a="$1" 'BEGIN {printf "%.3f", a}'; }
    fi
    local ra rb
    ra=$(range memkv "$fig") rb=$(range redis "$fig")
    say "$(printf '%-34s %10s %10s %7s  %-16s %s' "$label ($unit)" "$(cv "$a")" "$(cv "$b")" "$q" "$v" \
        "$(cv "${ra%..*}")..$(cv "${ra#*..}") / $(cv "${rb%..*}")..$(cv "${rb#*..}")")"
}

say "== Medians of $ROUNDS interleaved rounds (ratio = memkv/redis; ranges memkv / redis)"
say "$(printf '%-34s %10s %10s %7s  %-16s %s' figure memkv redis ratio target 'min..max')"
row "SAVE, foreground" save s lower
row "  CPU time" save_cpu s ""
row "  file size" size MB ""
row "BGSAVE, idle server" bgsave s lower
row "  CPU time (redis: with the child)" bgsave_cpu s ""
row "load at start-up" load s lower
row "  CPU time" load_cpu s ""
row "  start-up with the file" start s ""
row "  start-up without a file" empty s ""
row "BGSAVE under writes" bgl_s s ""
row "  writes/s during it" bgl_ops ops ""
row "extra memory during it, PSS sum" x_pss MB quarter
row "  RSS sum (shared pages twice)" x_rss MB ""
row "  redis child's Private_Dirty" child_pd MB ""
row "  memkv snapshot subsystem peak" snap MB ""
row "  rdb_last_cow_size (INFO)" cow MB ""
say ""
say "(Times are wall clock as a client sees them; the CPU times beside them move less when"
say " other work shares the machine. Redis notices its BGSAVE child's end in its cron (hz 10):"
say " its BGSAVE wall times carry up to 0.1 s of that."
say " PSS sum: the server process plus its children, the peak during BGSAVE minus the figure"
say " just before it, the write load already running; the issue's <= 1/4 target is on this one."
say " Redis's rdb_last_cow_size is its child's Private_Dirty; memkv's is the snapshot subsystem's"
say " peak, capped by bgsave-max-memory = $BGMAX bytes.)"
say ""
say "total time: $(($(date +%s) - T0)) s"
bench_finish
