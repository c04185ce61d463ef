#!/usr/bin/env bash
# Installs what is missing, builds memkv, and starts memkv-server in the background with
# deploy/memkv.conf (port 6379 on 127.0.0.1). Extra arguments are passed on as --name value
# options, e.g. scripts/run-server.sh --port 7000. Stop it with: kill "$(cat build/memkv.pid)"
# (which saves its snapshot, build/dump.rdb, loaded again at the next start).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
need_packages "${BUILD_PACKAGES[@]}" redis-tools
build_tree build -DMEMKV_BUILD_TESTS=ON
if [ -f build/memkv.pid ] && kill -0 "$(cat build/memkv.pid)" 2>/dev/null; then
    echo "memkv-server already running (pid $(cat build/memkv.pid)); stopping it first"
    kill "$(cat build/memkv.pid)"
    while kill -0 "$(cat build/memkv.pid)" 2>/dev/null; do sleep 0.1; done
fi
rm -f build/memkv.ready
setsid build/src/memkv-server deploy/memkv.conf --logfile "$PWD/build/memkv.log" --dir "$PWD/build" \
    --pidfile "$PWD/build/memkv.pid" --ready-file "$PWD/build/memkv.ready" "$@" \
    </dev/null >/dev/null 2>>build/memkv.log &
for _ in $(seq 1 100); do
    [ -f build/memkv.ready ] && break
    kill -0 $! 2>/dev/null || { echo "memkv-server failed to start:"; tail -n 20 build/memkv.log; exit 1; }
    sleep 0.1
done
[ -f build/memkv.ready ] || { echo "memkv-server did not become ready"; exit 1; }
port=$(sed -n 's/^port=//p' build/memkv.ready)
mport=$(sed -n 's/^metrics_port=//p' build/memkv.ready)
echo "memkv-server is running (pid $(cat build/memkv.pid)), log: build/memkv.log"
echo "try: redis-cli -p $port set a b"
[ "${mport:-0}" != 0 ] && echo "metrics: curl http://127.0.0.1:$mport/metrics"
echo "stop: kill \$(cat build/memkv.pid)"
