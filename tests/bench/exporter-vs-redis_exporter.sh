#!/usr/bin/env bash
# memkv-exporter vs Debian's prometheus-redis-exporter, in front of the same redis-server. Not a
# test: a benchmark; it prints PASS/MISS per target and exits 0 unless something fails to run.
#
#   bash tests/bench/exporter-vs-redis_exporter.sh [--rounds N] [--scrapes N]
#
# Starts, on free loopback ports (never a system service): one Debian redis-server (--save ""
# --appendonly no) holding KEYSPACE keys (SETs through redis-cli --pipe); memkv-exporter
# (--listen 127.0.0.1:0, plus MKX_ARGS), scraped at /scrape?target=127.0.0.1:PORT (the
# multi-target path of deploy/); prometheus-redis-exporter (--redis.addr redis://127.0.0.1:PORT
# --web.listen-address 127.0.0.1:PORT, default flags otherwise), scraped at /metrics.
# ROUNDS rounds, each with both exporters started afresh, the order of the two alternating per
# round; in each round each exporter gets WARMUP unmeasured then SCRAPES measured sequential
# scrapes (one exporter after the other, never both at once) over one kept HTTP/1.1
# connection with Prometheus' headers (Accept-Encoding: gzip included; GZIP=0 drops it), by
# tests/bench/scrape_rounds.py. Per round and exporter:
#   - latency p50/p99 (request sent -> body read, client included: the same client for both);
#   - exporter CPU per scrape: utime+stime of the exporter process (/proc/PID/stat) / SCRAPES;
#   - target CPU per scrape: redis-server's utime+stime over the round, minus its idle rate
#     (measured over IDLE_SECONDS before the rounds) times the round's duration, / SCRAPES;
#   - connections opened on the target per scrape (INFO total_connections_received delta) and
#     commands per scrape (total_commands_processed and commandstats deltas, minus the control
#     connection's own INFO, measured in the idle baseline);
#   - VmRSS and RssAnon of the exporter (/proc/PID/status) after its WARMUP + SCRAPES scrapes.
# Medians over the rounds, ratios memkv-exporter / redis_exporter, and the issue's targets:
# VmRSS <= 1/3, RssAnon <= 1/5, p99 <= 1/3, target CPU per scrape <= 1. Then where each
# exporter's RSS is (/proc/PID/smaps per mapping). /proc tick resolution is 1/CLK_TCK s (10 ms):
# over 1000 scrapes that is 10 us per scrape, so CPU figures of a few ticks are coarse.
# Results go to stdout and tests/bench/results/exporter-vs-redis_exporter-<date>.txt (gitignored).
#
# Environment (flags win):
#   ROUNDS=5 SCRAPES=1000 WARMUP=20 KEYSPACE=100000 IDLE_SECONDS=3 GZIP=1
#   MEMKV_EXPORTER=path  use this binary instead of building build-bench (Release)
#   MKX_ARGS="..."       extra memkv-exporter flags, e.g. --fresh-connection or --malloc-stats
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"

ROUNDS=${ROUNDS:-5}
SCRAPES=${SCRAPES:-1000}
WARMUP=${WARMUP:-20}
KEYSPACE=${KEYSPACE:-100000}
IDLE_SECONDS=${IDLE_SECONDS:-3}
export GZIP=${GZIP:-1}
MKX_ARGS=${MKX_ARGS:-}
while [ $# -gt 0 ]; do
    case $1 in
    --rounds) ROUNDS=$2; shift 2 ;;
    --scrapes) SCRAPES=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
    esac
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ && $SCRAPES =~ ^[1-9][0-9]*$ ]] || { echo "--rounds/--scrapes: positive integers" >&2; exit 2; }

BENCH_NAME=exporter-vs-redis_exporter
# shellcheck source=tests/bench/lib.sh
. "$REPO/tests/bench/lib.sh"

pkgs=(redis-server redis-tools prometheus-redis-exporter python3 procps)
[ -n "${MEMKV_EXPORTER:-}" ] || pkgs+=(gcc make cmake pkg-config libc6-dev libjemalloc-dev libmicrohttpd-dev libdw-dev zlib1g-dev liblzf-dev libhiredis-dev liblua5.1-0-dev lua-cjson lua-bitop)
need_packages "${pkgs[@]}"
for c in redis-server redis-cli prometheus-redis-exporter; do
    command -v "$c" >/dev/null || die "$c not found after installing packages"
done
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
HELPER=$REPO/tests/bench/scrape_rounds.py

if [ -n "${MEMKV_EXPORTER:-}" ]; then
    MKX=$(readlink -f "$MEMKV_EXPORTER")
    [ -x "$MKX" ] || die "MEMKV_EXPORTER=$MEMKV_EXPORTER is not executable"
else
    build_memkv build-bench
    MKX=$REPO/build-bench/exporter/memkv-exporter
    [ -x "$MKX" ] || die "no build-bench/exporter/memkv-exporter after the build"
fi

bench_init

# http_ok URL EXPECT: one GET answers 200 and its body contains EXPECT.
http_ok() {
    "$PY" - "$1" "$2" <<'EOF' 2>/dev/null
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
    sys.exit(0 if r.status == 200 and sys.argv[2].encode() in r.read() else 1)
EOF
}
# wait_http PID URL EXPECT NAME: up to 10 s.
wait_http() {
    local i
    for i in $(seq 1 100); do
        http_ok "$2" "$3" && return 0
        kill -0 "$1" 2>/dev/null || { tail -n 20 "$TMP/$4.log" >&2; die "$4 exited"; }
        sleep 0.1
    done
    tail -n 20 "$TMP/$4.log" >&2
    die "$4 did not answer $2 with '$3' within 10 s"
}
# proc_kib PID FIELD: a /proc/PID/status field (kB).
proc_kib() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"; }
# jget FILE EXPR: a Python expression over the round's JSON object d (and the idle one, i).
jget() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); i=json.load(open(sys.argv[2])); print(eval(sys.argv[3]))' "$1" "$TMP/idle.json" "$2"; }
ms() { awk -v s="$1" 'BEGIN {printf "%.3f", s * 1000}'; }
mkd() { awk -v a="$1" 'BEGIN {printf "%.2f", a}'; }

T0=$(date +%s)
say "memkv-exporter vs prometheus-redis-exporter — $(date '+%Y-%m-%d %H:%M:%S %z')"
say "memkv-exporter:  ${MKX#"$REPO"/} (commit $(memkv_commit)) $("$MKX" --version 2>&1 | head -n 1)${MKX_ARGS:+, flags: $MKX_ARGS}"
say "redis_exporter:  $(prometheus-redis-exporter -version 2>&1 | sed -n 's/.*msg="\([^"]*\)".*/\1/p' | head -n 1) (Debian $(dpkg-query -W -f='${Version}' prometheus-redis-exporter 2>/dev/null))"
say "target:          $(redis-server --version | cut -d' ' -f1-3), $KEYSPACE keys"
say "host:            $(nproc) cores, $(uname -sr); ROUNDS=$ROUNDS SCRAPES=$SCRAPES WARMUP=$WARMUP GZIP=$GZIP CLK_TCK=$(getconf CLK_TCK)"
say ""

log "redis-server with $KEYSPACE keys"
start_server redis plain
RD_PID=$SRV_PID RD_PORT=$SRV_PORT
make_pipe "$TMP/preload.resp" "$KEYSPACE" "key:%012d"
load_pipe "$RD_PORT" "$TMP/preload.resp" "$KEYSPACE"
[ "$(dbsize "$RD_PORT")" = "$KEYSPACE" ] || die "redis-server holds $(dbsize "$RD_PORT") keys, not $KEYSPACE"

declare -A URL EXPECT PID_OF NAME=([mk]=memkv-exporter [ex]=redis_exporter)
EXPECT[mk]="memkv_up 1"
EXPECT[ex]="redis_up 1"
read -r -a mkx_extra <<<"$MKX_ARGS"
# start_exporter mk|ex: PID_OF[k], URL[k]; returns once a scrape answers with EXPECT[k].
start_exporter() {
    local k=$1 port i
    if [ "$k" = mk ]; then
        "$MKX" --listen 127.0.0.1:0 "${mkx_extra[@]}" </dev/null >"$TMP/mk.log" 2>&1 &
        PID_OF[mk]=$!
        PIDS+=("${PID_OF[mk]}")
        for i in $(seq 1 100); do
            port=$(sed -n 's#.*listening on http://127\.0\.0\.1:\([0-9]*\)/.*#\1#p' "$TMP/mk.log" | head -n 1)
            [ -n "$port" ] && break
            kill -0 "${PID_OF[mk]}" 2>/dev/null || { cat "$TMP/mk.log" >&2; die "memkv-exporter exited"; }
            [ "$i" = 100 ] && die "memkv-exporter printed no 'listening on' line within 10 s"
            sleep 0.1
        done
        URL[mk]="http://127.0.0.1:$port/scrape?target=127.0.0.1:$RD_PORT"
    else
        port=$(free_port)
        prometheus-redis-exporter --redis.addr "redis://127.0.0.1:$RD_PORT" \
            --web.listen-address "127.0.0.1:$port" </dev/null >"$TMP/ex.log" 2>&1 &
        PID_OF[ex]=$!
        PIDS+=("${PID_OF[ex]}")
        URL[ex]=http://127.0.0.1:$port/metrics
    fi
    wait_http "${PID_OF[$k]}" "${URL[$k]}" "${EXPECT[$k]}" "$k"
}
stop_exporter() {
    kill -TERM "${PID_OF[$1]}" 2>/dev/null || true
    wait "${PID_OF[$1]}" 2>/dev/null || true
}

log "idle baseline of the target: $IDLE_SECONDS s"
"$PY" "$HELPER" idle "$IDLE_SECONDS" "$RD_PID" "$RD_PORT" >"$TMP/idle.json"

declare -A V # V[k.metric] = space-separated values, one per round
add() { V[$1.$2]="${V[$1.$2]:-} $3"; }
lastv() { echo "${V[$1.$2]}" | awk '{print $NF}'; }
for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then order=(mk ex); else order=(ex mk); fi
    # Fresh exporters each round: every memory reading is after WARMUP + SCRAPES scrapes.
    for k in "${order[@]}"; do start_exporter "$k"; done
    for k in "${order[@]}"; do
        f=$TMP/round.$k.$r.json
        "$PY" "$HELPER" scrape "${URL[$k]}" "$SCRAPES" "${PID_OF[$k]}" "$RD_PID" "$RD_PORT" \
            --warmup "$WARMUP" --expect "${EXPECT[$k]}" >"$f" || die "${NAME[$k]}: round $r failed"
        add "$k" rss "$(proc_kib "${PID_OF[$k]}" VmRSS)"
        add "$k" anon "$(proc_kib "${PID_OF[$k]}" RssAnon)"
        add "$k" p50 "$(jget "$f" 'd["p50"] * 1000')"
        add "$k" p99 "$(jget "$f" 'd["p99"] * 1000')"
        add "$k" ecpu "$(jget "$f" 'd["exporter_ticks"] / d["clk_tck"] * 1e6 / d["scrapes"]')"
        add "$k" tcpu "$(jget "$f" '(d["target_ticks"] - i["target_ticks"] / i["wall"] * d["wall"]) / d["clk_tck"] * 1e6 / d["scrapes"]')"
        add "$k" conns "$(jget "$f" 'd["conns"] / d["scrapes"]')"
        add "$k" cmds "$(jget "$f" '(d["cmds"] - i["cmds"]) / d["scrapes"]')"
        add "$k" httpc "$(jget "$f" 'd["http_connections_opened"]')"
        log "round $r/$ROUNDS ${NAME[$k]}: p50 $(mkd "$(lastv "$k" p50)") ms, p99 $(mkd "$(lastv "$k" p99)") ms, VmRSS $(lastv "$k" rss) KiB, RssAnon $(lastv "$k" anon) KiB"
    done
    if [ "$r" = "$ROUNDS" ]; then # where the memory is, before the last exporters stop
        SMAPS_MK=$("$PY" "$HELPER" smaps "${PID_OF[mk]}" 10)
        SMAPS_EX=$("$PY" "$HELPER" smaps "${PID_OF[ex]}" 6)
        THREADS_MK=$(find "/proc/${PID_OF[mk]}/task" -mindepth 1 -maxdepth 1 | wc -l)
        THREADS_EX=$(find "/proc/${PID_OF[ex]}/task" -mindepth 1 -maxdepth 1 | wc -l)
    fi
    for k in "${order[@]}"; do stop_exporter "$k"; done
done

med() { read -r -a xs <<<"${V[$1.$2]}"; median "${xs[@]}"; }
range() { read -r -a xs <<<"${V[$1.$2]}"; echo "$(mkd "$(minof "${xs[@]}")")..$(mkd "$(maxof "${xs[@]}")")"; }
# verdict_le RATIO LIMIT LABEL
verdict_le() { awk -v r="$1" -v l="$2" -v t="$3" 'BEGIN {if (r == "n/a") print "n/a"; else print (r <= l ? "PASS" : "MISS") " (<= " t ")"}'; }

say "== $ROUNDS rounds, alternating order; per round and exporter $WARMUP warm-up + $SCRAPES measured sequential scrapes"
say "   over one kept HTTP connection (Prometheus headers$([ "$GZIP" = 1 ] && echo ", gzip accepted")); medians over the rounds"
say "$(printf '%-34s %15s %15s %8s  %s' '' memkv-exporter redis_exporter ratio 'target')"
row() { # LABEL MK EX [LIMIT LIMIT_LABEL]
    local rt
    rt=$(ratio "$2" "$3")
    say "$(printf '%-34s %15s %15s %8s  %s' "$1" "$2" "$3" "$rt" "${4:+$(verdict_le "$rt" "$4" "$5")}")"
}
row "VmRSS KiB after $((WARMUP + SCRAPES)) scrapes" "$(fmt0 "$(med mk rss)")" "$(fmt0 "$(med ex rss)")" 0.3334 1/3
row "RssAnon KiB after $((WARMUP + SCRAPES)) scrapes" "$(fmt0 "$(med mk anon)")" "$(fmt0 "$(med ex anon)")" 0.2 1/5
row "latency p50 ms" "$(mkd "$(med mk p50)")" "$(mkd "$(med ex p50)")"
row "latency p99 ms" "$(mkd "$(med mk p99)")" "$(mkd "$(med ex p99)")" 0.3334 1/3
row "exporter CPU us/scrape" "$(fmt0 "$(med mk ecpu)")" "$(fmt0 "$(med ex ecpu)")"
row "target CPU us/scrape (minus idle)" "$(fmt0 "$(med mk tcpu)")" "$(fmt0 "$(med ex tcpu)")" 1.0 1
row "target connections/scrape" "$(mkd "$(med mk conns)")" "$(mkd "$(med ex conns)")"
row "target commands/scrape" "$(mkd "$(med mk cmds)")" "$(mkd "$(med ex cmds)")"
for k in mk ex; do
    f=$TMP/round.$k.$ROUNDS.json
    say "$(printf '%-15s' "${NAME[$k]}:") response $(jget "$f" 'd["bytes"]') bytes ($(jget "$f" 'd["encoding"]'); $(jget "$f" 'd["bytes_plain"]') plain);" \
        "HTTP connections reopened during the measured scrapes: $(echo "${V[$k.httpc]}" | awk '{s += $1} END {print s}');" \
        "commands per scrape: $(jget "$f" '", ".join("%s %.2f" % (c, (n - i["cmdstats"].get(c, 0)) / d["scrapes"]) for c, n in sorted(d["cmdstats"].items()) if n - i["cmdstats"].get(c, 0))')"
done
say ""
say "Per-round ranges (min..max):"
for m in p50 p99 ecpu tcpu; do
    say "$(printf '  %-6s memkv-exporter %-15s redis_exporter %s' "$m" "$(range mk "$m")" "$(range ex "$m")")"
done
say "  VmRSS   memkv-exporter${V[mk.rss]}  redis_exporter${V[ex.rss]} KiB"
say "  RssAnon memkv-exporter${V[mk.anon]}  redis_exporter${V[ex.anon]} KiB"
say "(target idle baseline: $(jget "$TMP/idle.json" 'i["target_ticks"]') ticks over $(fmt1 "$(jget "$TMP/idle.json" 'i["wall"]')") s; latency includes the python client, the same for both)"
say ""
say "== Where the RSS is, last round (/proc/PID/smaps summed per mapping name, KiB)"
say "memkv-exporter ($THREADS_MK threads):"
say "$SMAPS_MK"
say "redis_exporter ($THREADS_EX threads):"
say "$SMAPS_EX"
say ""
say "total time: $(($(date +%s) - T0)) s"
bench_finish
