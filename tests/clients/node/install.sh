#!/usr/bin/env bash
# Installs the node-redis version that package-lock.json pins into DEST/node_modules (a folder
# of the build tree: nothing is installed into the source tree). ctest runs this as the setup
# fixture of integration.test_clients_node; any failure fails that test.
# Usage: install.sh DEST
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dest=${1:?usage: install.sh DEST}
command -v node >/dev/null || { echo "node not found: apt-get install nodejs" >&2; exit 1; }
command -v npm >/dev/null || { echo "npm not found: apt-get install npm" >&2; exit 1; }
mkdir -p "$dest"
# Already installed from this very lock file: nothing to do (a rerun needs no registry).
if cmp -s "$here/package-lock.json" "$dest/package-lock.json" && [ -f "$dest/node_modules/redis/package.json" ]; then
    exit 0
fi
cp "$here/package.json" "$here/package-lock.json" "$dest/"
cd "$dest"
# npm ci: exactly the lock file's versions, never a prompt, fails if package.json and the lock
# file disagree.
npm ci --no-audit --no-fund --no-progress --loglevel=error </dev/null
node -e "require('redis')" </dev/null
echo "node-redis $(node -p "require('redis/package.json').version") installed in $dest"
