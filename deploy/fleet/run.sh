#!/usr/bin/env bash
# The fleet example on one machine (deploy/fleet/README.md): three memkv shards behind twemproxy
# (nutcracker), a Redis behind memkv-exporter, and Prometheus scraping them all, on loopback.
#
#   deploy/fleet/run.sh          start everything in the background (stop what runs first)
#   deploy/fleet/run.sh stop     stop what the last start started
#   deploy/fleet/run.sh status   say what runs
#
# Environment (defaults in brackets):
#   FLEET_DIR               state: rendered configs, logs, pids, Prometheus data [build/fleet]
#   FLEET_BIND              address everything listens on                        [127.0.0.1]
#   FLEET_SHARD_PORTS       RESP ports of the memkv shards, one per shard        [7001 7002 7003]
#   FLEET_METRICS_PORTS     their metrics ports, as many                         [9201 9202 9203]
#   FLEET_PROXY_PORT        twemproxy's RESP port, where clients connect         [22121]
#   FLEET_PROXY_STATS_PORT  twemproxy's stats port                               [22222]
#   FLEET_REDIS_PORT        the Redis behind the exporter                        [6390]
#   FLEET_EXPORTER_PORT     memkv-exporter                                       [9123]
#   FLEET_PROMETHEUS_PORT   Prometheus                                           [9090]
#   MEMKV_SERVER            memkv-server binary                   [build/src/memkv-server]
#   MEMKV_EXPORTER          memkv-exporter binary                 [build/exporter/memkv-exporter]
# Without a memkv-exporter binary the Redis and the exporter are left out (with a warning);
# Prometheus keeps their jobs, which then show as down.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/deploy/fleet"
FLEET_DIR=${FLEET_DIR:-$ROOT/build/fleet}
BIND=${FLEET_BIND:-127.0.0.1}
read -r -a SHARD_PORTS <<<"${FLEET_SHARD_PORTS:-7001 7002 7003}"
read -r -a METRICS_PORTS <<<"${FLEET_METRICS_PORTS:-9201 9202 9203}"
PROXY_PORT=${FLEET_PROXY_PORT:-22121}
STATS_PORT=${FLEET_PROXY_STATS_PORT:-22222}
REDIS_PORT=${FLEET_REDIS_PORT:-6390}
EXPORTER_PORT=${FLEET_EXPORTER_PORT:-9123}
PROM_PORT=${FLEET_PROMETHEUS_PORT:-9090}
SERVER=${MEMKV_SERVER:-$ROOT/build/src/memkv-server}
EXPORTER=${MEMKV_EXPORTER:-$ROOT/build/exporter/memkv-exporter}
PIDS="$FLEET_DIR/pids"

die() {
    echo "run.sh: $*" >&2
    exit 1
}

# ---- stop / status: only the processes this script started (their pid files) ----------------

stop_all() {
    local f pid name
    [ -d "$PIDS" ] || return 0
    for f in "$PIDS"/*.pid; do
        [ -e "$f" ] || continue
        pid=$(cat "$f")
        name=$(basename "$f" .pid)
        if kill -0 "$pid" 2>/dev/null; then
            echo "stopping $name (pid $pid)"
            kill "$pid"
            for _ in $(seq 1 100); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
        fi
        rm -f "$f"
    done
}

status_all() {
    local f pid
    [ -d "$PIDS" ] || { echo "nothing started (no $PIDS)"; return 0; }
    for f in "$PIDS"/*.pid; do
        [ -e "$f" ] || continue
        pid=$(cat "$f")
        if kill -0 "$pid" 2>/dev/null; then
            echo "$(basename "$f" .pid): running (pid $pid)"
        else
            echo "$(basename "$f" .pid): not running"
        fi
    done
}

case "${1:-start}" in
    start) ;;
    stop) stop_all; exit 0 ;;
    status) status_all; exit 0 ;;
    *) die "usage: run.sh [start|stop|status]" ;;
esac

# ---- start ------------------------------------------------------------------------------------

[ ${#SHARD_PORTS[@]} -ge 1 ] || die "FLEET_SHARD_PORTS is empty"
[ ${#SHARD_PORTS[@]} -eq ${#METRICS_PORTS[@]} ] ||
    die "FLEET_SHARD_PORTS and FLEET_METRICS_PORTS must name as many ports"
[ -x "$SERVER" ] || die "no memkv-server at $SERVER: build it (cmake -S . -B build && cmake --build build) or set MEMKV_SERVER"
for tool in nutcracker prometheus; do
    command -v "$tool" >/dev/null || die "$tool not found: apt-get install -y $tool"
done
with_exporter=1
if [ ! -x "$EXPORTER" ]; then
    echo "run.sh: warning: no memkv-exporter at $EXPORTER (set MEMKV_EXPORTER): starting without the Redis and the exporter" >&2
    with_exporter=0
elif ! command -v redis-server >/dev/null; then
    echo "run.sh: warning: redis-server not found (apt-get install -y redis-server): starting without the Redis" >&2
fi

stop_all
mkdir -p "$FLEET_DIR" "$PIDS"

port_free() {
    ! (exec 3<>"/dev/tcp/$BIND/$1") 2>/dev/null
}

wait_port() { # name port pid
    local i
    for i in $(seq 1 200); do
        if ! port_free "$2"; then
            return 0
        fi
        kill -0 "$3" 2>/dev/null || die "$1 exited during start-up; see $FLEET_DIR/$1.log"
        [ "$i" -lt 200 ] && sleep 0.1
    done
    die "$1 did not listen on $BIND:$2 in 20 s; see $FLEET_DIR/$1.log"
}

all_ports=("${SHARD_PORTS[@]}" "${METRICS_PORTS[@]}" "$PROXY_PORT" "$STATS_PORT" "$PROM_PORT")
[ "$with_exporter" = 1 ] && all_ports+=("$REDIS_PORT" "$EXPORTER_PORT")
for p in "${all_ports[@]}"; do
    port_free "$p" || die "port $BIND:$p is in use: choose others (FLEET_*_PORT(S))"
done

start() { # name command...: started in its own session, pid recorded, output to FLEET_DIR/name.log
    local name=$1
    shift
    setsid "$@" </dev/null >"$FLEET_DIR/$name.log" 2>&1 &
    echo $! >"$PIDS/$name.pid"
    LAST_PID=$!
}

# The shards: memkv with deploy/memkv.conf, each on its own RESP and metrics port.
shard_lines=() metrics_lines=()
for i in "${!SHARD_PORTS[@]}"; do
    n=$((i + 1))
    start "memkv-$n" "$SERVER" "$ROOT/deploy/memkv.conf" --bind "$BIND" --port "${SHARD_PORTS[$i]}" \
        --metrics-bind "$BIND" --metrics-port "${METRICS_PORTS[$i]}" \
        --dir "$FLEET_DIR" --dbfilename "memkv-$n.rdb"
    wait_port "memkv-$n" "${SHARD_PORTS[$i]}" "$LAST_PID"
    wait_port "memkv-$n" "${METRICS_PORTS[$i]}" "$LAST_PID"
    shard_lines+=("    - $BIND:${SHARD_PORTS[$i]}:1 memkv-$n")
    metrics_lines+=("          - $BIND:${METRICS_PORTS[$i]}")
done

# twemproxy: the template with this run's addresses, the shard list generated.
{
    sed -e '/^  servers:$/q' -e "s/^  listen: .*/  listen: $BIND:$PROXY_PORT/" "$HERE/nutcracker.yml"
    printf '%s\n' "${shard_lines[@]}"
} >"$FLEET_DIR/nutcracker.yml"
nutcracker -t -c "$FLEET_DIR/nutcracker.yml" >/dev/null 2>&1 ||
    die "nutcracker rejects $FLEET_DIR/nutcracker.yml: $(nutcracker -t -c "$FLEET_DIR/nutcracker.yml" 2>&1)"
start nutcracker nutcracker -c "$FLEET_DIR/nutcracker.yml" -s "$STATS_PORT" -a "$BIND" \
    -i 10000 -p "$FLEET_DIR/nutcracker.pid" -o "$FLEET_DIR/nutcracker.log"
wait_port nutcracker "$PROXY_PORT" "$LAST_PID"
wait_port nutcracker "$STATS_PORT" "$LAST_PID"

if [ "$with_exporter" = 1 ]; then
    if command -v redis-server >/dev/null; then
        start redis redis-server --bind "$BIND" --port "$REDIS_PORT" --save "" --appendonly no \
            --dir "$FLEET_DIR"
        wait_port redis "$REDIS_PORT" "$LAST_PID"
    fi
    start memkv-exporter "$EXPORTER" --listen "$BIND:$EXPORTER_PORT"
    wait_port memkv-exporter "$EXPORTER_PORT" "$LAST_PID"
fi

# Prometheus: the template with this run's addresses and absolute rule paths.
awk -v targets="$(printf '%s\n' "${metrics_lines[@]}")" '
    /^          - [0-9.]+:920[0-9]$/ { if (!done) { print targets; done = 1 } next }
    { print }' "$HERE/prometheus.yml" |
    sed -e "s|\.\./prometheus/|$ROOT/deploy/prometheus/|" \
        -e "s|- 127\.0\.0\.1:6390$|- $BIND:$REDIS_PORT|" \
        -e "s|proxy://127\.0\.0\.1:22222$|proxy://$BIND:$STATS_PORT|" \
        -e "s|replacement: 127\.0\.0\.1:9123$|replacement: $BIND:$EXPORTER_PORT|" \
        >"$FLEET_DIR/prometheus.yml"
promtool check config "$FLEET_DIR/prometheus.yml" >/dev/null 2>&1 ||
    die "promtool rejects $FLEET_DIR/prometheus.yml: $(promtool check config "$FLEET_DIR/prometheus.yml" 2>&1)"
start prometheus prometheus --config.file="$FLEET_DIR/prometheus.yml" \
    --storage.tsdb.path="$FLEET_DIR/prometheus-data" --web.listen-address="$BIND:$PROM_PORT"
wait_port prometheus "$PROM_PORT" "$LAST_PID"

cat <<EOF
The fleet runs (state, logs and rendered configs in $FLEET_DIR):
  clients:     redis-cli -h $BIND -p $PROXY_PORT   (twemproxy, keys sharded over ${#SHARD_PORTS[@]} memkv)
  shards:      ${SHARD_PORTS[*]} (RESP), metrics on ${METRICS_PORTS[*]}
  twemproxy:   stats on $BIND:$STATS_PORT
EOF
if [ "$with_exporter" = 1 ]; then
    echo "  exporter:    http://$BIND:$EXPORTER_PORT/scrape?target=$BIND:$REDIS_PORT (Redis)"
    echo "               http://$BIND:$EXPORTER_PORT/scrape?target=proxy://$BIND:$STATS_PORT (twemproxy)"
fi
cat <<EOF
  prometheus:  http://$BIND:$PROM_PORT/targets
  grafana:     point a Prometheus data source at http://$BIND:$PROM_PORT and load dashboards/memkv-fleet.json
  stop:        $0 stop
EOF
