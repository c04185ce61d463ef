#!/usr/bin/env bash
# Cost of memkv's embedded HTTP endpoint (issue 5, "Benchmark"). Not a test.
#
#   bash tests/bench/endpoint.sh
#
# Starts its own servers on free loopback ports (no persistence, never a system service):
#   1. scrape latency: SCRAPES sequential scrapes of memkv's /metrics and of Debian's
#      prometheus-redis-exporter (default flags) scraping Debian's redis-server, interleaved
#      memkv/exporter/memkv/…, each one `curl -s -o /dev/null -w '%{time_total}'` on a new
#      connection (the same invocation for both), after WARMUP unmeasured scrapes of each; both
#      servers hold the same KEYSPACE keys; p50/p99/max and the p99 ratio (target <= 0.2);
#   2. throughput: redis-benchmark SET and GET -P 16 -c 50 -n REQUESTS against memkv (endpoint
#      on), without and with SCRAPE_RATE scrapes/s of /metrics in the background (a small
#      python loop, new connection per scrape): ROUNDS rounds, each a pair of runs back to back
#      (order alternating per round); the median of the pairs' losses (target <= 1%), and the
#      CPU time per scrape of memkv's non-event-loop threads and of the scraping client;
#   3. instructions (valgrind --tool=callgrind --separate-threads=yes, SET -P 16, CG_REQUESTS
#      requests): the event-loop thread's Ir per request with the endpoint off (--metrics-port 0),
#      on without scrapes, and on with SCRAPE_RATE scrapes/s; the HTTP threads' Ir per scrape;
#   4. RSS the endpoint adds: VmRSS of memkv with --metrics-port 0 against memkv with the
#      endpoint on after 100 scrapes (RSS_PAIRS pairs, median).
# Results go to stdout and tests/bench/results/endpoint-<date>.txt (gitignored).
#
# Environment:
#   SCRAPES=500 WARMUP=20 SCRAPE_RATE=10 ROUNDS=7 REQUESTS=3000000 KEYSPACE=100000
#   CG_REQUESTS=200000 RSS_PAIRS=3
#   MEMKV_SERVER=path   use this binary instead of building build-bench (Release)
#   SKIP_LATENCY=1 / SKIP_THROUGHPUT=1 / SKIP_CALLGRIND=1 / SKIP_RSS=1   skip a part
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"

SCRAPES=${SCRAPES:-500}
WARMUP=${WARMUP:-20}
SCRAPE_RATE=${SCRAPE_RATE:-10}
ROUNDS=${ROUNDS:-7}
REQUESTS=${REQUESTS:-3000000}
KEYSPACE=${KEYSPACE:-100000}
CG_REQUESTS=${CG_REQUESTS:-200000}
RSS_PAIRS=${RSS_PAIRS:-3}
SKIP_LATENCY=${SKIP_LATENCY:-0}
SKIP_THROUGHPUT=${SKIP_THROUGHPUT:-0}
SKIP_CALLGRIND=${SKIP_CALLGRIND:-0}
SKIP_RSS=${SKIP_RSS:-0}

BENCH_NAME=endpoint
# shellcheck source=tests/bench/lib.sh
. "$REPO/tests/bench/lib.sh"

if [ -n "${MEMKV_SERVER:-}" ]; then NO_BUILD=1; fi
need_tools
need_packages prometheus-redis-exporter curl
command -v prometheus-redis-exporter >/dev/null || die "prometheus-redis-exporter not found"
command -v curl >/dev/null || die "curl not found"

use_memkv MEMKV MEMKV_SERVER build-bench -DMEMKV_ACCOUNTING=ON

bench_init

# memkv with its endpoint on an ephemeral port ("auto"; start_server passes --metrics-port 0
# first, the later option wins), and with it off.
SERVER_ARGS[memkv_ep]="--metrics-port auto"
SERVER_ARGS[memkv_off]="--metrics-port 0"
# metrics_port of the last server start_server started (from its ready file).
metrics_port_of_last() {
    local rf=$TMP/$1.$SRV_N.ready p
    p=$(sed -n 's/^metrics_port=//p' "$rf")
    if [ -z "$p" ] || [ "$p" = 0 ]; then die "no metrics_port in $rf"; fi
    echo "$p"
}

# A background scraper: RATE scrapes/s of URL, one line per scrape in OUT ("200 <bytes>" or
# "ERR ..."); SCRAPER_PID.
cat >"$TMP/scraper.py" <<'EOF'
import sys, time, urllib.request
url, rate, out = sys.argv[1], float(sys.argv[2]), open(sys.argv[3], "a", buffering=1)
t0, i = time.monotonic(), 0
while True:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            out.write("%d %d\n" % (r.status, len(r.read())))
    except Exception as e:
        out.write("ERR %r\n" % (e,))
    i += 1
    d = t0 + i / rate - time.monotonic()
    if d > 0:
        time.sleep(d)
EOF
start_scraper() {
    "$PY" "$TMP/scraper.py" "$1" "$2" "$3" </dev/null >/dev/null 2>&1 &
    SCRAPER_PID=$!
    PIDS+=("$SCRAPER_PID")
}
# stop_pid PID: SIGTERM and wait (a scraper, the exporter).
stop_pid() {
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}
# proc_ticks PID: user + system CPU ticks of a process; http_thread_ticks PID: those of its
# threads other than the main one (the event loop), i.e. the endpoint's and the background ones.
proc_ticks() { awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$1/stat" 2>/dev/null || echo 0; }
http_thread_ticks() {
    local t sum=0 v
    for t in /proc/"$1"/task/*; do
        [ "${t##*/}" = "$1" ] && continue
        v=$(awk '{sub(/^.*\) /, ""); print $12 + $13}' "$t/stat" 2>/dev/null || echo 0)
        sum=$((sum + v))
    done
    echo "$sum"
}
# scrape_counts FILE -> "<ok> <failed>"
scrape_counts() { awk '$1 == 200 {ok++} $1 != 200 {bad++} END {print ok + 0, bad + 0}' "$1"; }

# pct P FILE: nearest-rank percentile of the numbers in FILE (one a line).
pct() { sort -g "$2" | awk -v p="$1" '{a[NR] = $1} END {i = int((p * NR + 99) / 100); if (i < 1) i = 1; print a[i]}'; }
ms() { awk -v s="$1" 'BEGIN {printf "%.3f", s * 1000}'; }

T0=$(date +%s)
say "memkv HTTP endpoint — $(date '+%Y-%m-%d %H:%M:%S %z')"
say "memkv:    $MEMKV (commit $(memkv_commit))"
say "redis:    $(redis-server --version)"
say "exporter: $(prometheus-redis-exporter -version 2>&1 | sed -n 's/.*msg="\([^"]*\)".*/\1/p' | head -n 1)"
say "tools:    $(curl --version | head -n 1 | cut -d' ' -f1-2), $(redis-benchmark --version 2>/dev/null | head -n 1), $(valgrind --version)"
say "host:     $(nproc) cores, $(uname -sr); SCRAPES=$SCRAPES SCRAPE_RATE=$SCRAPE_RATE ROUNDS=$ROUNDS REQUESTS=$REQUESTS KEYSPACE=$KEYSPACE"
say ""
say "Note: 2 cores shared by servers, clients and other work; wall-clock figures are medians of"
say "interleaved runs and still only indicative; the callgrind figures are the stable ones."
say ""

PRELOAD=$TMP/preload.resp
make_pipe "$PRELOAD" "$KEYSPACE" "key:%012d"

# ---------------------------------------------------------------------------------------------
# 1. Scrape latency
if [ "$SKIP_LATENCY" != 1 ]; then
    log "latency: starting memkv, redis-server and prometheus-redis-exporter"
    start_server memkv_ep plain
    MK_PID=$SRV_PID MK_PORT=$SRV_PORT
    MK_MPORT=$(metrics_port_of_last memkv_ep)
    start_server redis plain
    RD_PID=$SRV_PID RD_PORT=$SRV_PORT
    load_pipe "$MK_PORT" "$PRELOAD" "$KEYSPACE"
    load_pipe "$RD_PORT" "$PRELOAD" "$KEYSPACE"
    EX_PORT=$(free_port)
    prometheus-redis-exporter -redis.addr "redis://127.0.0.1:$RD_PORT" \
        -web.listen-address "127.0.0.1:$EX_PORT" </dev/null >"$TMP/exporter.log" 2>&1 &
    EX_PID=$!
    PIDS+=("$EX_PID")
    for i in $(seq 1 100); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$EX_PORT/metrics" || true)" = 200 ] && break
        kill -0 "$EX_PID" 2>/dev/null || { cat "$TMP/exporter.log" >&2; die "the exporter exited"; }
        [ "$i" = 100 ] && die "the exporter did not answer within 10 s"
        sleep 0.1
    done
    grep -q '^redis_up 1' <(curl -s "http://127.0.0.1:$EX_PORT/metrics") || die "exporter: redis_up is not 1"
    MK_URL=http://127.0.0.1:$MK_MPORT/metrics
    EX_URL=http://127.0.0.1:$EX_PORT/metrics
    # scrape_once URL FILE: one curl, "<code> <seconds>" appended.
    scrape_once() { curl -s -o /dev/null -w '%{http_code} %{time_total}\n' "$1" >>"$2"; }
    for i in $(seq 1 "$WARMUP"); do
        scrape_once "$MK_URL" /dev/null
        scrape_once "$EX_URL" /dev/null
    done
    log "latency: $SCRAPES scrapes of each, interleaved"
    : >"$TMP/lat.mk.raw"
    : >"$TMP/lat.ex.raw"
    for i in $(seq 1 "$SCRAPES"); do
        scrape_once "$MK_URL" "$TMP/lat.mk.raw"
        scrape_once "$EX_URL" "$TMP/lat.ex.raw"
    done
    for k in mk ex; do
        bad=$(awk '$1 != 200' "$TMP/lat.$k.raw" | wc -l)
        [ "$bad" = 0 ] || die "$k: $bad scrapes did not answer 200"
        awk '{print $2}' "$TMP/lat.$k.raw" >"$TMP/lat.$k"
    done
    curl -s "$MK_URL" >"$TMP/body.mk"
    curl -s "$EX_URL" >"$TMP/body.ex"
    EX_RSS=$(rss_bytes "$EX_PID")
    stop_pid "$EX_PID"
    stop_server "$MK_PID" "$MK_PORT"
    stop_server "$RD_PID" "$RD_PORT"

    say "== Scrape latency: $SCRAPES sequential scrapes each, interleaved, curl time_total (new connection each),"
    say "   after $WARMUP warm-up scrapes; both servers hold $KEYSPACE keys"
    say "$(printf '%-34s %9s %9s %9s %9s %8s %9s' '' 'p50 ms' 'p99 ms' 'max ms' 'mean ms' 'bytes' 'samples')"
    for k in mk ex; do
        [ "$k" = mk ] && label="memkv /metrics" || label="redis_exporter -> redis-server"
        mean=$(awk '{s += $1} END {print s / NR}' "$TMP/lat.$k")
        say "$(printf '%-34s %9s %9s %9s %9s %8s %9s' "$label" "$(ms "$(pct 50 "$TMP/lat.$k")")" \
            "$(ms "$(pct 99 "$TMP/lat.$k")")" "$(ms "$(pct 100 "$TMP/lat.$k")")" "$(ms "$mean")" \
            "$(wc -c <"$TMP/body.$k")" "$(grep -vc '^#' "$TMP/body.$k")")"
    done
    P99_RATIO=$(ratio "$(pct 99 "$TMP/lat.mk")" "$(pct 99 "$TMP/lat.ex")")
    P50_RATIO=$(ratio "$(pct 50 "$TMP/lat.mk")" "$(pct 50 "$TMP/lat.ex")")
    verdict_lat=$(awk -v r="$P99_RATIO" 'BEGIN {print (r != "n/a" && r <= 0.2) ? "meets (<=0.2)" : "MISSES (<=0.2)"}')
    say "p99 ratio memkv/redis_exporter: $P99_RATIO  $verdict_lat   (p50 ratio $P50_RATIO)"
    say "(the exporter is a sidecar process besides: VmRSS $(fmt0 "$(awk -v b="$EX_RSS" 'BEGIN {print b / 1024}')") KiB after the scrapes)"
    say ""
fi

# ---------------------------------------------------------------------------------------------
# 2. Throughput without and with scrapes
if [ "$SKIP_THROUGHPUT" != 1 ]; then
    log "throughput: memkv with the endpoint, $KEYSPACE keys preloaded"
    start_server memkv_ep plain
    MK_PID=$SRV_PID MK_PORT=$SRV_PORT
    MK_MPORT=$(metrics_port_of_last memkv_ep)
    load_pipe "$MK_PORT" "$PRELOAD" "$KEYSPACE"
    declare -A TP PAIR
    SCRAPED_OK=0 SCRAPED_BAD=0 HTTP_TICKS=0 CLIENT_TICKS=0
    for r in $(seq 1 "$ROUNDS"); do
        # Pairs: the same load without and with scrapes back to back, the order alternating.
        if [ $((r % 2)) = 1 ]; then modes=(none scrape); else modes=(scrape none); fi
        for t in set get; do
            for mode in "${modes[@]}"; do
                if [ "$mode" = scrape ]; then
                    out=$TMP/scrapes.$r.$t
                    : >"$out"
                    start_scraper "http://127.0.0.1:$MK_MPORT/metrics" "$SCRAPE_RATE" "$out"
                    sp=$SCRAPER_PID
                    sleep 0.2
                    h0=$(http_thread_ticks "$MK_PID")
                fi
                v=$(bench "$MK_PORT" "$t" 16 "$REQUESTS")
                if [ "$mode" = scrape ]; then
                    h1=$(http_thread_ticks "$MK_PID")
                    c1=$(proc_ticks "$sp")
                    stop_pid "$sp"
                    read -r ok bad <<<"$(scrape_counts "$out")"
                    SCRAPED_OK=$((SCRAPED_OK + ok)) SCRAPED_BAD=$((SCRAPED_BAD + bad))
                    HTTP_TICKS=$((HTTP_TICKS + h1 - h0)) CLIENT_TICKS=$((CLIENT_TICKS + c1))
                fi
                TP[$t.$mode]="${TP[$t.$mode]:-} $v"
                log "round $r/$ROUNDS ${t^^} P16 $mode: $(fmt0 "$v") ops/s"
            done
            read -r -a last2 <<<"$(echo "${TP[$t.none]}" | awk '{print $NF}') $(echo "${TP[$t.scrape]}" | awk '{print $NF}')"
            PAIR[$t]="${PAIR[$t]:-} $(awk -v a="${last2[0]}" -v b="${last2[1]}" 'BEGIN {print 100 * (a - b) / a}')"
        done
    done
    stop_server "$MK_PID" "$MK_PORT"
    say "== Throughput: redis-benchmark -P 16 -c $CLIENTS -n $REQUESTS -r $KEYSPACE, $ROUNDS rounds, each a pair of runs"
    say "   back to back without and with $SCRAPE_RATE scrapes/s of /metrics ($SCRAPED_OK scrapes answered 200, $SCRAPED_BAD failed)"
    say "$(printf '%-8s %12s %12s %12s  %-15s %-17s %-21s %-21s' load 'no scrapes' 'with scrapes' 'paired loss' target 'pair losses' 'no-scrape min..max' 'scrape min..max')"
    for t in set get; do
        read -r -a xs <<<"${TP[$t.none]}"
        read -r -a ys <<<"${TP[$t.scrape]}"
        read -r -a ps <<<"${PAIR[$t]}"
        m1=$(median "${xs[@]}") m2=$(median "${ys[@]}") pl=$(median "${ps[@]}")
        v=$(awk -v l="$pl" 'BEGIN {print (l <= 1.0) ? "meets (<=1%)" : "MISSES (<=1%)"}')
        say "$(printf '%-8s %12s %12s %11.2f%%  %-15s %-17s %-21s %-21s' "${t^^} P16" "$(fmt0 "$m1")" "$(fmt0 "$m2")" "$pl" "$v" \
            "$(fmt1 "$(minof "${ps[@]}")")..$(fmt1 "$(maxof "${ps[@]}")")%" \
            "$(fmt0 "$(minof "${xs[@]}")")..$(fmt0 "$(maxof "${xs[@]}")")" \
            "$(fmt0 "$(minof "${ys[@]}")")..$(fmt0 "$(maxof "${ys[@]}")")")"
    done
    say "(paired loss = median over the pairs of (no scrapes - with scrapes) / no scrapes; medians of the"
    say " absolute figures beside it. The pair losses show how noisy this shared 2-core host is.)"
    if [ "$SCRAPED_OK" -gt 0 ]; then
        tck=$(getconf CLK_TCK)
        say "CPU per scrape during the loads: memkv's HTTP threads $(awk -v t="$HTTP_TICKS" -v k="$tck" -v n="$SCRAPED_OK" 'BEGIN {printf "%.2f", 1000 * t / k / n}') ms,"
        say "the scraping client (python urllib) $(awk -v t="$CLIENT_TICKS" -v k="$tck" -v n="$SCRAPED_OK" 'BEGIN {printf "%.2f", 1000 * t / k / n}') ms"
        say "(at $SCRAPE_RATE/s: $(awk -v t="$HTTP_TICKS" -v k="$tck" -v n="$SCRAPED_OK" -v r="$SCRAPE_RATE" 'BEGIN {printf "%.2f", 100 * t / k / n * r}')% of one core for the endpoint; /proc tick resolution 1/$tck s)"
    fi
    say ""
fi

# ---------------------------------------------------------------------------------------------
# 3. Instructions under callgrind, per thread
if [ "$SKIP_CALLGRIND" != 1 ]; then
    CG=$TMP/callgrind
    mkdir -p "$CG"
    # cg_start KIND OUT: like start_server KIND callgrind, with --separate-threads=yes
    # (OUT-01 is the main thread, the event loop).
    cg_start() {
        local kind=$1 out=$2 rf extra=() i port=""
        SRV_N=$((SRV_N + 1))
        rf=$TMP/$kind.$SRV_N.ready
        SRV_LOG=$TMP/$kind.$SRV_N.log
        read -r -a extra <<<"${SERVER_ARGS[$kind]:-}"
        env -i "PATH=/usr/local/bin:/usr/bin:/bin" valgrind --tool=callgrind --separate-threads=yes \
            "--callgrind-out-file=$out" --collect-systime=no \
            "$MEMKV" --port 0 --metrics-port 0 --ready-file "$rf" --save "" "${extra[@]}" \
            </dev/null >"$SRV_LOG" 2>&1 &
        SRV_PID=$!
        PIDS+=("$SRV_PID")
        for i in $(seq 1 600); do
            kill -0 "$SRV_PID" 2>/dev/null || { tail -n 20 "$SRV_LOG" >&2; die "$kind exited under callgrind"; }
            [ -z "$port" ] && [ -s "$rf" ] && port=$(sed -n 's/^port=//p' "$rf")
            if [ -n "$port" ] && redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; then
                SRV_PORT=$port
                return 0
            fi
            sleep 0.1
        done
        die "$kind did not answer under callgrind"
    }
    # thread_ir OUT main|others: Ir of the main thread, or the sum of the other threads.
    thread_ir() {
        local f sum=0 v
        for f in "$1"-[0-9]*; do
            v=$(awk '/^(summary|totals):/ {print $2; exit}' "$f")
            if [ "$f" = "$1-01" ]; then
                if [ "$2" = main ]; then sum=$((sum + v)); fi
            elif [ "$2" = others ]; then
                sum=$((sum + v))
            fi
        done
        echo "$sum"
    }
    declare -A CIR
    # cg_case NAME KIND LOAD(idle|set) SCRAPES(0|1)
    cg_case() {
        local name=$1 kind=$2 load=$3 scrape=$4 out=$CG/callgrind.$1.out sp ok bad mport
        log "callgrind: $name"
        cg_start "$kind" "$out"
        load_pipe "$SRV_PORT" "$PRELOAD" "$KEYSPACE"
        if [ "$scrape" = 1 ]; then
            mport=$(metrics_port_of_last "$kind")
            : >"$CG/scrapes.$name"
            start_scraper "http://127.0.0.1:$mport/metrics" "$SCRAPE_RATE" "$CG/scrapes.$name"
            sp=$SCRAPER_PID
            sleep 0.5
        fi
        if [ "$load" = set ]; then
            bench "$SRV_PORT" set 16 "$CG_REQUESTS" >/dev/null
        else
            redis-cli -p "$SRV_PORT" ping >/dev/null
        fi
        if [ "$scrape" = 1 ]; then
            stop_pid "$sp"
            read -r ok bad <<<"$(scrape_counts "$CG/scrapes.$name")"
            CIR[$name.scrapes]=$ok
            [ "$bad" = 0 ] || log "warning: $bad scrapes failed under callgrind"
        fi
        stop_server "$SRV_PID" "$SRV_PORT"
        ls "$out"-01 >/dev/null 2>&1 || die "no per-thread callgrind output for $name"
        CIR[$name.main]=$(thread_ir "$out" main)
        CIR[$name.others]=$(thread_ir "$out" others)
        log "callgrind $name: main $(fmt0 "${CIR[$name.main]}") Ir, other threads $(fmt0 "${CIR[$name.others]}") Ir"
    }
    cg_case off-idle memkv_off idle 0
    cg_case off-set memkv_off set 0
    cg_case on-idle memkv_ep idle 0
    cg_case on-set memkv_ep set 0
    cg_case on-set-scrape memkv_ep set 1
    per_req() { awk -v x="${CIR[$1.main]}" -v y="${CIR[$2.main]}" -v n="$CG_REQUESTS" 'BEGIN {printf "%.1f", (x - y) / n}'; }
    a=$(per_req off-set off-idle)
    b=$(per_req on-set on-idle)
    c=$(per_req on-set-scrape on-idle)
    n=${CIR[on-set-scrape.scrapes]}
    per_scrape=$(awk -v x="${CIR[on-set-scrape.others]}" -v y="${CIR[on-set.others]}" -v n="$n" \
        'BEGIN {if (n > 0) printf "%.0f", (x - y) / n; else print "n/a"}')
    say "== Instructions (callgrind, --separate-threads=yes): SET -P 16 -c $CLIENTS, $CG_REQUESTS requests, $KEYSPACE keys"
    say "   preloaded; event-loop thread Ir per request = (load run - idle run) / requests"
    say "$(printf '%-44s %12s %10s' '' 'Ir/request' 'vs off')"
    say "$(printf '%-44s %12s %10s' 'endpoint off (--metrics-port 0)' "$a" 1.000)"
    say "$(printf '%-44s %12s %10s' 'endpoint on, no scrapes' "$b" "$(ratio "$b" "$a" 4)")"
    say "$(printf '%-44s %12s %10s' "endpoint on, $SCRAPE_RATE scrapes/s ($n scrapes)" "$c" "$(ratio "$c" "$a" 4)")"
    say "HTTP threads: $per_scrape Ir per scrape (other threads' Ir, scrape run minus no-scrape run, / $n)"
    say "event-loop thread idle run: off $(fmt0 "${CIR[off-idle.main]}") Ir, on $(fmt0 "${CIR[on-idle.main]}") Ir"
    say "(the with-scrapes run lasts longer under valgrind, so its cron ticks add a little; scrapes never"
    say " run on the event-loop thread)"
    say ""
    # Where a scrape's instructions go: self Ir per function over the threads other than the
    # event loop, scrape run minus no-scrape run, per scrape.
    others_funcs() {
        local f
        for f in "$1"-[0-9]*; do
            if [ "$f" != "$1-01" ]; then cg_funcs "$f"; fi
        done | awk -F'\t' '$2 ~ /^[^ ]+:[^ ]+( \[[^]]*\])?$/ {s[$2] += $1} END {for (k in s) print s[k] "\t" k}'
    }
    if [ "${n:-0}" -gt 0 ]; then
        others_funcs "$CG/callgrind.on-set-scrape.out" >"$CG/funcs.scrape"
        others_funcs "$CG/callgrind.on-set.out" >"$CG/funcs.base"
        say "== HTTP threads, top 15 functions per scrape (self Ir; scrape run minus no-scrape run, / $n)"
        awk -F'\t' 'FILENAME == ARGV[1] {b[$2] = $1; next} {d = $1 - b[$2]; if (d > 0) printf "%.0f\t%s\n", d, $2}' \
            "$CG/funcs.base" "$CG/funcs.scrape" | sort -t"$(printf '\t')" -k1,1nr |
            awk -F'\t' -v n="$n" -v tot="$per_scrape" 'NR <= 15 {printf "  %9.0f Ir/scrape %5.1f%%  %s\n", $1 / n, 100 * $1 / n / tot, $2}' |
            tee -a "$REPORT"
        say ""
    fi
    CG_KEEP=$RESULTS_DIR/endpoint-$STAMP-callgrind
    mkdir -p "$CG_KEEP"
    cp "$CG"/callgrind.*.out-* "$CG_KEEP"/
    say "callgrind outputs kept in ${CG_KEEP#"$REPO"/}/"
    say ""
fi

# ---------------------------------------------------------------------------------------------
# 4. RSS the endpoint adds
if [ "$SKIP_RSS" != 1 ]; then
    RSS_OFF=() RSS_ON=() HTTP_SUB=()
    for i in $(seq 1 "$RSS_PAIRS"); do
        start_server memkv_off plain
        sleep 1
        off=$(rss_bytes "$SRV_PID")
        off_threads=$(find "/proc/$SRV_PID/task" -mindepth 1 -maxdepth 1 | wc -l)
        stop_server "$SRV_PID" "$SRV_PORT"
        start_server memkv_ep plain
        mport=$(metrics_port_of_last memkv_ep)
        for j in $(seq 1 100); do
            curl -s -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$mport/metrics" | grep -q 200 || die "scrape $j failed"
        done
        sleep 1
        on=$(rss_bytes "$SRV_PID")
        on_threads=$(find "/proc/$SRV_PID/task" -mindepth 1 -maxdepth 1 | wc -l)
        HTTP_SUB+=("$(info_field "$SRV_PORT" memory memkv_subsystem_http)")
        stop_server "$SRV_PID" "$SRV_PORT"
        RSS_OFF+=("$off")
        RSS_ON+=("$on")
        log "rss pair $i: off $off, on after 100 scrapes $on"
    done
    mo=$(median "${RSS_OFF[@]}") mn=$(median "${RSS_ON[@]}")
    say "== RSS the endpoint adds: VmRSS of an empty memkv, --metrics-port 0 vs endpoint on after 100 scrapes"
    say "   (1 s after the start / the last scrape), median of $RSS_PAIRS pairs"
    say "$(printf '%-30s %12s %12s %12s' '' 'off' 'on' 'added')"
    say "$(printf '%-30s %12s %12s %12s' 'VmRSS (KiB)' "$(fmt0 "$(awk -v b="$mo" 'BEGIN {print b / 1024}')")" \
        "$(fmt0 "$(awk -v b="$mn" 'BEGIN {print b / 1024}')")" "$(fmt0 "$(awk -v a="$mn" -v b="$mo" 'BEGIN {print (a - b) / 1024}')")")"
    say "$(printf '%-30s %12s %12s' 'threads' "$off_threads" "$on_threads")"
    say "memkv_subsystem_http (INFO memory, bytes) with the endpoint on: $(median "${HTTP_SUB[@]}")"
    say "pairs (off/on bytes): $(for i in "${!RSS_OFF[@]}"; do printf '%s/%s ' "${RSS_OFF[$i]}" "${RSS_ON[$i]}"; done)"
    say ""
fi

say "total time: $(($(date +%s) - T0)) s"
bench_finish
