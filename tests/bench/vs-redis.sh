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
CLIENTS=50
SKIP_THROUGHPUT=${SKIP_THROUGHPUT:-0}
SKIP_MEMORY=${SKIP_MEMORY:-0}
SKIP_CALLGRIND=${SKIP_CALLGRIND:-0}

log() { printf '[vs-redis %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}

# ---------------------------------------------------------------------------------------------
# Packages: install only what is missing; apt-get update only then.
need_packages() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=()
    [ "$(id -u)" -ne 0 ] && sudo=(sudo)
    log "installing: ${missing[*]}"
    "${sudo[@]}" apt-get update -qq
    # RUNLEVEL=1: the redis-server package must not start a system service; we do not use one.
    DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 "${sudo[@]}" apt-get install -y -qq \
        --no-install-recommends "${missing[@]}" >&2
}

pkgs=(redis-server redis-tools valgrind python3 procps)
if [ -z "${MEMKV_SERVER:-}" ]; then
    pkgs+=(gcc make cmake pkg-config libc6-dev libjemalloc-dev libmicrohttpd-dev)
fi
need_packages "${pkgs[@]}"
for c in redis-server redis-cli redis-benchmark valgrind callgrind_annotate; do
    command -v "$c" >/dev/null || die "$c not found after installing packages"
done
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)

# ---------------------------------------------------------------------------------------------
# Build memkv (Release) unless a binary is given.
if [ -n "${MEMKV_SERVER:-}" ]; then
    MEMKV=$(readlink -f "$MEMKV_SERVER")
    [ -x "$MEMKV" ] || die "MEMKV_SERVER=$MEMKV_SERVER is not executable"
else
    log "building memkv (build-bench, Release)"
    cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DMEMKV_BUILD_TESTS=OFF >/dev/null
    cmake --build build-bench -j"$(nproc)" >/dev/null
    MEMKV=$REPO/build-bench/src/memkv-server
fi

# ---------------------------------------------------------------------------------------------
# Scratch space, report, and cleanup of everything we start.
TMP=$(mktemp -d "${TMPDIR:-/tmp}/memkv-vs-redis.XXXXXX")
STAMP=$(date +%Y%m%d-%H%M%S)
RESULTS_DIR=$REPO/tests/bench/results
REPORT_FILE=$RESULTS_DIR/vs-redis-$STAMP.txt
CG_KEEP=$RESULTS_DIR/vs-redis-$STAMP-callgrind
REPORT=$TMP/report.txt
: >"$REPORT"
PIDS=()

cleanup() {
    local rc=$? pid i
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do
        kill -0 "$pid" 2>/dev/null || continue
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for i in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "pid $pid did not stop on SIGTERM; SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
    if [ "$rc" -ne 0 ] && [ -s "$REPORT" ]; then
        mkdir -p "$RESULTS_DIR"
        { cat "$REPORT"; echo "(INCOMPLETE: the run stopped with exit code $rc)"; } >"$REPORT_FILE.partial"
        log "partial report: $REPORT_FILE.partial"
    fi
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# say: a line of the report (stdout and the results file).
say() { printf '%s\n' "$*" | tee -a "$REPORT"; }

free_port() {
    "$PY" -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()'
}

# start_server KIND MODE [CALLGRIND_OUT]  KIND: memkv|redis, MODE: plain|callgrind.
# Sets SRV_PID, SRV_PORT, SRV_LOG. Waits until the server answers PING (up to 60 s).
SRV_N=0
start_server() {
    local kind=$1 mode=$2 cgout=${3:-} rf="" port="" cmd=() pre=() i
    SRV_N=$((SRV_N + 1))
    SRV_LOG=$TMP/$kind.$SRV_N.log
    if [ "$kind" = memkv ]; then
        rf=$TMP/memkv.$SRV_N.ready
        rm -f "$rf"
        cmd=("$MEMKV" --port 0 --ready-file "$rf" --save "")
    else
        port=$(free_port)
        mkdir -p "$TMP/redis.$SRV_N"
        cmd=(redis-server --save '' --appendonly no --port "$port" --bind 127.0.0.1
            --daemonize no --dir "$TMP/redis.$SRV_N")
    fi
    if [ "$mode" = callgrind ]; then
        # Same environment for both servers: an empty one, and the same valgrind options.
        pre=(env -i "PATH=/usr/local/bin:/usr/bin:/bin" valgrind --tool=callgrind
            "--callgrind-out-file=$cgout" --collect-systime=no)
    fi
    "${pre[@]}" "${cmd[@]}" </dev/null >"$SRV_LOG" 2>&1 &
    SRV_PID=$!
    PIDS+=("$SRV_PID")
    for i in $(seq 1 600); do
        kill -0 "$SRV_PID" 2>/dev/null || { tail -n 20 "$SRV_LOG" >&2; die "$kind exited during start-up"; }
        if [ -z "$port" ] && [ -s "$rf" ]; then port=$(sed -n 's/^port=//p' "$rf"); fi
        if [ -n "$port" ] && redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; then
            SRV_PORT=$port
            return 0
        fi
        sleep 0.1
    done
    tail -n 20 "$SRV_LOG" >&2
    die "$kind ($mode) did not answer PING within 60 s"
}

# stop_server PID PORT: SHUTDOWN NOSAVE, then wait (valgrind writes its output on exit).
stop_server() {
    local pid=$1 port=$2 i
    redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
    for i in $(seq 1 600); do
        kill -0 "$pid" 2>/dev/null || break
        if [ "$i" -eq 100 ]; then kill -TERM "$pid" 2>/dev/null || true; fi
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && die "pid $pid did not stop"
    wait "$pid" 2>/dev/null || true
}

rss_bytes() { awk '/^VmRSS:/ {print $2 * 1024}' "/proc/$1/status"; }
used_memory() { redis-cli -p "$1" info memory | tr -d '\r' | awk -F: '$1 == "used_memory" {print $2}'; }
dbsize() { redis-cli -p "$1" dbsize | tr -d '\r'; }

# make_pipe FILE N FORMAT: N SET commands in RESP, keys FORMAT % i, value "xxx".
make_pipe() {
    "$PY" - "$1" "$2" "$3" <<'EOF'
import sys
path, n, fmt = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(path, "wb") as f:
    buf = []
    for i in range(n):
        k = (fmt % i).encode()
        buf.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$3\r\nxxx\r\n" % (len(k), k))
        if len(buf) == 65536:
            f.write(b"".join(buf)); buf = []
    f.write(b"".join(buf))
EOF
}

# load_pipe PORT FILE N: redis-cli --pipe, checking errors and the number of replies.
load_pipe() {
    local out
    out=$(redis-cli -p "$1" --pipe <"$2" 2>&1) || die "redis-cli --pipe failed: $out"
    grep -q "errors: 0, replies: $3" <<<"$out" || die "redis-cli --pipe: unexpected result: $out"
}

# bench PORT TEST PIPELINE N -> requests per second (redis-benchmark --csv)
bench() {
    local out rps
    out=$(timeout 600 redis-benchmark -p "$1" -t "$2" -n "$4" -c "$CLIENTS" -P "$3" -r "$KEYSPACE" -q --csv 2>&1) ||
        die "redis-benchmark -t $2 -P $3 failed: $out"
    rps=$(awk -F'"' -v t="${2^^}" '$2 == t {print $4}' <<<"$out")
    [ -n "$rps" ] || die "no rps in redis-benchmark output: $out"
    echo "$rps"
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
minof() { printf '%s\n' "$@" | sort -g | head -n 1; }
maxof() { printf '%s\n' "$@" | sort -g | tail -n 1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b == 0) print "n/a"; else printf "%.3f", a / b}'; }
fmt0() { awk -v a="$1" 'BEGIN {printf "%.0f", a}'; }
fmt1() { awk -v a="$1" 'BEGIN {printf "%.1f", a}'; }
# verdict RATIO higher|lower: whether the target (>= 1.0 or <= 1.0) is met
verdict() {
    awk -v r="$1" -v d="$2" 'BEGIN {
        if (r == "n/a") {print "n/a"; exit}
        if (d == "higher") print (r >= 1.0 ? "meets (>=1.0)" : (r >= 0.8 ? "below 1.0 (noise?)" : "MISSES (>=1.0)"));
        else print (r <= 1.0 ? "meets (<=1.0)" : "MISSES (<=1.0)") }'
}

# ---------------------------------------------------------------------------------------------
T0=$(date +%s)
MEMKV_COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$REPO" diff --quiet HEAD -- src 2>/dev/null || MEMKV_COMMIT="$MEMKV_COMMIT (src modified)"
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

LOADS=("set 1" "get 1" "set 16" "get 16")
load_name() { local t=${1%% *} p=${1##* }; echo "${t^^} P$p"; }

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
    declare -A IR
    # cg_run KIND NAME [TEST PIPELINE]: start under callgrind, preload the key space, run the
    # load (none for the baseline), shut down; IR[KIND.NAME] = total Ir of the process.
    cg_run() {
        local kind=$1 name=$2 t=${3:-} p=${4:-} out=$CG/callgrind.$1.$2.out total
        start_server "$kind" callgrind "$out"
        load_pipe "$SRV_PORT" "$PRELOAD" "$KEYSPACE"
        if [ -n "$t" ]; then
            bench "$SRV_PORT" "$t" "$p" "$CG_REQUESTS" >/dev/null
        else
            redis-cli -p "$SRV_PORT" ping >/dev/null
        fi
        stop_server "$SRV_PID" "$SRV_PORT"
        [ -s "$out" ] || die "no callgrind output for $kind $name (log: $(tail -n 5 "$SRV_LOG"))"
        total=$(awk '/^(summary|totals):/ {print $2; exit}' "$out")
        [ -n "$total" ] || die "no summary/totals line in $out"
        IR[$kind.$name]=$total
        log "callgrind $kind $name: $total Ir"
    }
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
        a=$(awk -v x="${IR[memkv.$t-P$p]}" -v y="${IR[memkv.idle]}" -v n="$CG_REQUESTS" 'BEGIN {print (x - y) / n}')
        b=$(awk -v x="${IR[redis.$t-P$p]}" -v y="${IR[redis.idle]}" -v n="$CG_REQUESTS" 'BEGIN {print (x - y) / n}')
        q=$(ratio "$a" "$b")
        say "$(printf '%-8s %12s %12s %8s  %s' "$(load_name "$l")" "$(fmt0 "$a")" "$(fmt0 "$b")" "$q" "$(verdict "$q" lower)")"
    done
    say "$(printf '%-8s %12s %12s' 'idle Ir' "${IR[memkv.idle]}" "${IR[redis.idle]}")"
    say "(ratio = memkv/redis, lower is better for memkv; deterministic to within ~1%: cron ticks during"
    say " the run and redis-benchmark's random keys are the only variation)"
    say ""

    # Where memkv's instructions go: per function, load run minus idle run, per request.
    cg_funcs() { # FILE -> "Ir<TAB>file:function [object]" for every function
        callgrind_annotate --inclusive=no --threshold=100 "$1" 2>/dev/null |
            awk '/file:function/ {f = 1; next} f && /^-+$/ {next}
                 f && NF { ir = $1; gsub(",", "", ir); sub(/^ *[0-9,]+ +\([^)]*\) +/, ""); print ir "\t" $0 }'
    }
    mkdir -p "$CG_KEEP"
    cp "$CG"/callgrind.*.out "$CG_KEEP"/
    cg_funcs "$CG/callgrind.memkv.idle.out" >"$CG/funcs.idle"
    for l in "${LOADS[@]}"; do
        t=${l%% *} p=${l##* }
        cg_funcs "$CG/callgrind.memkv.$t-P$p.out" >"$CG/funcs.load"
        total=$((${IR[memkv.$t-P$p]} - ${IR[memkv.idle]}))
        say "== memkv top 15 functions, $(load_name "$l"): self Ir per request (load run minus idle run)"
        awk -F'\t' '
            NR == FNR {idle[$2] = $1; next}
            {d = $1 - idle[$2]; if (d > 0) printf "%.0f\t%s\n", d, $2}' "$CG/funcs.idle" "$CG/funcs.load" |
            sort -t"$(printf '\t')" -k1,1nr |
            awk -F'\t' -v n="$CG_REQUESTS" -v tot="$total" 'NR <= 15 {
                name = $2; sub(/\[\/[^]]*\//, "[", name)
                printf "  %8.1f Ir/req %5.1f%%  %s\n", $1 / n, 100 * $1 / tot, name}' | tee -a "$REPORT"
        say ""
    done
    say "callgrind outputs kept in ${CG_KEEP#"$REPO"/}/"
fi

say "total time: $(($(date +%s) - T0)) s"
mkdir -p "$RESULTS_DIR"
cp "$REPORT" "$REPORT_FILE"
log "report written to ${REPORT_FILE#"$REPO"/}"
