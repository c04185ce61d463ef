# shellcheck shell=bash
# Shared functions of the benchmark scripts in tests/bench/ (sourced, not run).
#
# The sourcing script sets BENCH_NAME (log prefix, results file name) before sourcing, then
# calls bench_init once it is in the repository; afterwards it may use:
#   log/die, need_packages, say (report line), free_port,
#   start_server/stop_server (memkv or redis-server, plain or under callgrind),
#   make_pipe/load_pipe (preloading keys), bench (redis-benchmark -> ops/s),
#   median/minof/maxof/ratio/fmt0/fmt1/verdict, timed (wall clock of a command),
#   cg_run/cg_funcs/cg_delta/cg_top/cg_diff (callgrind).
# Every process start_server starts is stopped on exit (trap), whatever the exit path.

BENCH_NAME=${BENCH_NAME:-bench}
CLIENTS=${CLIENTS:-50}

log() { printf '[%s %s] %s\n' "$BENCH_NAME" "$(date +%H:%M:%S)" "$*" >&2; }
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

# need_tools: the packages every benchmark needs (plus a compiler unless NO_BUILD=1), checked.
need_tools() {
    local pkgs=(redis-server redis-tools valgrind python3 procps) c
    [ "${NO_BUILD:-0}" = 1 ] || pkgs+=(gcc make cmake pkg-config libc6-dev libjemalloc-dev libmicrohttpd-dev libdw-dev zlib1g-dev liblzf-dev)
    need_packages "${pkgs[@]}"
    for c in redis-server redis-cli redis-benchmark valgrind callgrind_annotate; do
        command -v "$c" >/dev/null || die "$c not found after installing packages"
    done
    PY=/usr/bin/python3
    [ -x "$PY" ] || PY=$(command -v python3)
}

# build_memkv DIR [CMAKE_OPTION...]: Release build of memkv-server in DIR, no tests.
build_memkv() {
    local dir=$1
    shift
    log "building memkv ($dir, Release${*:+, $*})"
    cmake -S "$REPO" -B "$REPO/$dir" -DCMAKE_BUILD_TYPE=Release -DMEMKV_BUILD_TESTS=OFF "$@" >/dev/null
    cmake --build "$REPO/$dir" -j"$(nproc)" >/dev/null
    [ -x "$REPO/$dir/src/memkv-server" ] || die "no $dir/src/memkv-server after the build"
}

# use_memkv VAR ENV DIR [cmake options...]: VAR becomes the memkv-server named by $ENV when it
# is set, else a Release build in DIR made with those options.
use_memkv() {
    local var=$1 env=$2 dir=$3 bin
    shift 3
    if [ -n "${!env:-}" ]; then
        bin=$(readlink -f "${!env}")
        [ -x "$bin" ] || die "$env=${!env} is not executable"
    else
        build_memkv "$dir" "$@"
        bin=$REPO/$dir/src/memkv-server
    fi
    printf -v "$var" '%s' "$bin"
}

# ---------------------------------------------------------------------------------------------
# Scratch space, report, and cleanup of everything we start.
# bench_init: sets TMP, STAMP, RESULTS_DIR, REPORT_FILE (results/BENCH_NAME-STAMP.txt), REPORT,
# and installs the traps.
PIDS=()
bench_init() {
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/memkv-$BENCH_NAME.XXXXXX")
    STAMP=$(date +%Y%m%d-%H%M%S)
    RESULTS_DIR=$REPO/tests/bench/results
    REPORT_FILE=$RESULTS_DIR/$BENCH_NAME-$STAMP.txt
    REPORT=$TMP/report.txt
    : >"$REPORT"
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

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
    if [ "$rc" -ne 0 ] && [ -s "${REPORT:-}" ]; then
        mkdir -p "$RESULTS_DIR"
        { cat "$REPORT"; echo "(INCOMPLETE: the run stopped with exit code $rc)"; } >"$REPORT_FILE.partial"
        log "partial report: $REPORT_FILE.partial"
    fi
    [ -n "${TMP:-}" ] && rm -rf "$TMP"
    exit "$rc"
}

# bench_finish: copy the report to its results file.
bench_finish() {
    mkdir -p "$RESULTS_DIR"
    cp "$REPORT" "$REPORT_FILE"
    log "report written to ${REPORT_FILE#"$REPO"/}"
}

# say: a line of the report (stdout and the results file).
say() { printf '%s\n' "$*" | tee -a "$REPORT"; }

# memkv_commit: short HEAD, "(src modified)" when src/ differs from it.
memkv_commit() {
    local c
    c=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
    git -C "$REPO" diff --quiet HEAD -- src 2>/dev/null || c="$c (src modified)"
    echo "$c"
}

free_port() {
    "$PY" -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()'
}

# Servers. KIND "redis" is Debian's redis-server; any other KIND is a memkv-server: the binary
# ${SERVER_BIN[KIND]} (default $MEMKV) with the extra arguments ${SERVER_ARGS[KIND]} (split on
# blanks; default none).
declare -A SERVER_BIN SERVER_ARGS

# start_server KIND MODE [CALLGRIND_OUT]  MODE: plain|callgrind.
# Sets SRV_PID, SRV_PORT, SRV_LOG. Waits until the server answers PING (up to 60 s).
SRV_N=0
start_server() {
    local kind=$1 mode=$2 cgout=${3:-} rf="" port="" cmd=() pre=() extra=() i
    SRV_N=$((SRV_N + 1))
    SRV_LOG=$TMP/$kind.$SRV_N.log
    if [ "$kind" != redis ]; then
        rf=$TMP/$kind.$SRV_N.ready
        rm -f "$rf"
        read -r -a extra <<<"${SERVER_ARGS[$kind]:-}"
        cmd=("${SERVER_BIN[$kind]:-$MEMKV}" --port 0 --metrics-port 0 --ready-file "$rf" --save "" "${extra[@]}")
    else
        port=$(free_port)
        mkdir -p "$TMP/redis.$SRV_N"
        cmd=(redis-server --save '' --appendonly no --port "$port" --bind 127.0.0.1
            --daemonize no --dir "$TMP/redis.$SRV_N")
    fi
    if [ "$mode" = callgrind ]; then
        # Same environment for every server: an empty one, and the same valgrind options.
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
info_field() { redis-cli -p "$1" info "$2" | tr -d '\r' | awk -F: -v f="$3" '$1 == f {print $2}'; }
used_memory() { info_field "$1" memory used_memory; }
# subsystem_bytes PORT NAME: memkv's INFO memory memkv_subsystem_NAME (bytes the subsystem holds)
subsystem_bytes() { info_field "$1" memory "memkv_subsystem_$2"; }
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

# bench PORT TEST PIPELINE N -> requests per second (redis-benchmark --csv); -r $KEYSPACE.
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
# ratio A B [DECIMALS=3]
ratio() { awk -v a="$1" -v b="$2" -v d="${3:-3}" 'BEGIN {if (b == 0 || a == "" || b == "") print "n/a"; else printf "%.*f", d, a / b}'; }
fmt0() { awk -v a="$1" 'BEGIN {printf "%.0f", a}'; }
fmt1() { awk -v a="$1" 'BEGIN {printf "%.1f", a}'; }
# timed OUT CMD...: seconds (wall clock) CMD takes, its stdout and stderr in OUT; dies if it fails.
timed() {
    local out=$1 t0 t1
    shift
    t0=$(date +%s.%N)
    "$@" >"$out" 2>&1 || die "$* failed: $(tail -n 5 "$out")"
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}'
}
# verdict RATIO higher|lower: whether the target (>= 1.0 or <= 1.0) is met
verdict() {
    awk -v r="$1" -v d="$2" 'BEGIN {
        if (r == "n/a") {print "n/a"; exit}
        if (d == "higher") print (r >= 1.0 ? "meets (>=1.0)" : (r >= 0.8 ? "below 1.0 (noise?)" : "MISSES (>=1.0)"));
        else print (r <= 1.0 ? "meets (<=1.0)" : "MISSES (<=1.0)") }'
}

# LOADS: "test pipeline" pairs; load_name "set 16" -> "SET P16".
# shellcheck disable=SC2034 # used by the sourcing scripts
LOADS=("set 1" "get 1" "set 16" "get 16")
load_name() { local t=${1%% *} p=${1##* }; echo "${t^^} P$p"; }

# ---------------------------------------------------------------------------------------------
# Callgrind. cg_run KIND NAME [LOAD...]: start KIND under callgrind, preload the key space
# ($PRELOAD: ${PRELOAD_N:-$KEYSPACE} commands; not when NAME is "empty"), run the load ($CG_LOAD PORT LOAD...,
# by default cg_bench: LOAD is TEST PIPELINE; no LOAD: a PING, the idle baseline), shut down;
# IR[KIND.NAME] = total Ir of the process, its output in $CG/callgrind.KIND.NAME.out. A script
# may define cg_started KIND PORT (run after the start) and cg_stopping KIND NAME PORT (before
# the shutdown), e.g. to check the server or read INFO.
declare -A IR
cg_bench() { bench "$1" "$2" "$3" "$CG_REQUESTS"; }
cg_run() {
    local kind=$1 name=$2 out=$CG/callgrind.$1.$2.out total
    shift 2
    start_server "$kind" callgrind "$out"
    if declare -F cg_started >/dev/null; then cg_started "$kind" "$SRV_PORT"; fi
    [ "$name" = empty ] || load_pipe "$SRV_PORT" "$PRELOAD" "${PRELOAD_N:-$KEYSPACE}"
    if [ $# -gt 0 ]; then
        "${CG_LOAD:-cg_bench}" "$SRV_PORT" "$@" >/dev/null
    else
        redis-cli -p "$SRV_PORT" ping >/dev/null
    fi
    if declare -F cg_stopping >/dev/null; then cg_stopping "$kind" "$name" "$SRV_PORT"; fi
    stop_server "$SRV_PID" "$SRV_PORT"
    [ -s "$out" ] || die "no callgrind output for $kind $name (log: $(tail -n 5 "$SRV_LOG"))"
    total=$(awk '/^(summary|totals):/ {print $2; exit}' "$out")
    [ -n "$total" ] || die "no summary/totals line in $out"
    IR[$kind.$name]=$total
    log "callgrind $kind $name: $total Ir"
}

# cg_per_req KIND NAME: (Ir of the load run - Ir of the idle run) / CG_REQUESTS
cg_per_req() {
    awk -v x="${IR[$1.$2]}" -v y="${IR[$1.idle]}" -v n="$CG_REQUESTS" 'BEGIN {print (x - y) / n}'
}

# cg_funcs FILE -> "Ir<TAB>file:function [object]" for every function, self Ir; the object's
# directory is dropped so that the same function of two builds has the same name.
cg_funcs() {
    callgrind_annotate --inclusive=no --auto=no --threshold=100 "$1" 2>/dev/null |
        awk '/file:function/ {f = 1; next} f && /^-+$/ {next}
             f && NF { ir = $1; gsub(",", "", ir); sub(/^ *[0-9,]+ +\([^)]*\) +/, "");
                       sub(/\[\/[^]]*\//, "["); s[$0] += ir }
             END { for (k in s) print s[k] "\t" k }'
}

# cg_delta LOAD_OUT IDLE_OUT -> "Ir<TAB>function" per function: self Ir of the load run minus
# that of the idle run (may be negative).
cg_delta() {
    local dir
    dir=$(mktemp -d "$TMP/cgdelta.XXXXXX")
    cg_funcs "$1" >"$dir/load"
    cg_funcs "$2" >"$dir/idle"
    awk -F'\t' 'FILENAME == ARGV[1] {idle[$2] = $1; next} {seen[$2] = 1; print $1 - idle[$2] "\t" $2}
                END {for (k in idle) if (!(k in seen)) print -idle[k] "\t" k}' "$dir/idle" "$dir/load"
    rm -rf "$dir"
}

# cg_top N TOTAL DELTA [BASE_DELTA]: the N functions whose Ir in DELTA (a cg_delta output) minus
# that in BASE_DELTA is largest and positive, as Ir per request (divided by CG_DIV, default
# $CG_REQUESTS) and as a share of TOTAL Ir (0 or a label: no share printed).
cg_top() {
    local n=$1 total=$2 delta=$3 base=${4:-/dev/null}
    awk -F'\t' 'FILENAME == ARGV[1] {b[$2] = $1; next} {d = $1 - b[$2]; if (d > 0) printf "%.0f\t%s\n", d, $2}' \
        "$base" "$delta" |
        sort -t"$(printf '\t')" -k1,1nr |
        awk -F'\t' -v n="${CG_DIV:-$CG_REQUESTS}" -v tot="$total" -v top="$n" 'NR <= top {
            if (tot + 0 > 0) printf "  %8.1f Ir/req %5.1f%%  %s\n", $1 / n, 100 * $1 / tot, $2
            else printf "  %8.1f Ir/req  %s\n", $1 / n, $2 }'
}

# cg_diff X Y RUN BASE DIV TITLE: report (say) where X costs more than Y: the $TOP functions
# whose self Ir grew most, each server's run RUN minus its run BASE, per DIV requests (and as %
# of Y's Ir per request), then the sum over all functions of what grew and what shrank.
cg_diff() {
    local x=$1 y=$2 run=$3 base=$4 div=$5 title=$6 total
    cg_delta "$CG/callgrind.$x.$run.out" "$CG/callgrind.$x.$base.out" >"$CG/delta.x"
    cg_delta "$CG/callgrind.$y.$run.out" "$CG/callgrind.$y.$base.out" >"$CG/delta.y"
    total=$((${IR[$y.$run]} - ${IR[$y.$base]}))
    say "== $x vs $y, $title: top ${TOP:-10} functions whose self Ir/request grew ($x - $y; % of $y's Ir/request)"
    CG_DIV=$div cg_top "${TOP:-10}" "$total" "$CG/delta.x" "$CG/delta.y" | tee -a "$REPORT"
    awk -F'\t' -v n="$div" 'FILENAME == ARGV[1] {b[$2] = $1; next}
        {d = $1 - b[$2]; delete b[$2]; if (d > 0) up += d; else down += d}
        END {for (k in b) {d = -b[k]; if (d > 0) up += d; else down += d}
             printf "  (all functions: %+.1f grew, %+.1f shrank, net %+.1f Ir/request)\n", up / n, down / n, (up + down) / n}' \
        "$CG/delta.y" "$CG/delta.x" | tee -a "$REPORT"
    say ""
}
