#!/usr/bin/env bash
# npm run setup: makes sure redis-server, the PostgreSQL server binaries
# (postgres, initdb) and Debian's chromium (the browser tests drive it; no
# browser is ever downloaded) are installed, for `npm start` and `npm test`.
# `npm start` runs it by itself when a server binary is missing.
# Idempotent: installs only what is missing, runs apt-get update only when needed.
# As root on Debian/Ubuntu it installs; otherwise it prints the command and exits 1.
set -euo pipefail

find_redis() {
  local dir
  if command -v redis-server >/dev/null 2>&1; then command -v redis-server; return 0; fi
  for dir in /usr/bin /usr/sbin /usr/local/bin; do
    if [ -x "$dir/redis-server" ]; then echo "$dir/redis-server"; return 0; fi
  done
  return 1
}

# A directory holding both postgres and initdb: on PATH, else the highest /usr/lib/postgresql/*/bin.
find_pg() {
  local dir
  local IFS=:
  for dir in $PATH; do
    if [ -n "$dir" ] && [ -x "$dir/postgres" ] && [ -x "$dir/initdb" ]; then echo "$dir"; return 0; fi
  done
  unset IFS
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5,5 -V -r); do
    if [ -x "$dir/postgres" ] && [ -x "$dir/initdb" ]; then echo "$dir"; return 0; fi
  done
  return 1
}

find_chromium() {
  local p
  for p in "${CHROMIUM:-}" /usr/bin/chromium; do
    if [ -n "$p" ] && [ -x "$p" ]; then echo "$p"; return 0; fi
  done
  return 1
}

missing=()
find_redis >/dev/null || missing+=(redis-server)
find_pg >/dev/null || missing+=(postgresql)
# Debian's chromium: the browser tests (test/web/, test/engine/client/browser.test.ts) drive it
find_chromium >/dev/null || missing+=(chromium)

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: missing: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: not root; install them with:"
    echo "  sudo apt-get install -y ${missing[*]}"
    echo "(or run \`npm run setup\` as root)"
    exit 1
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: no apt-get here (not Debian/Ubuntu); install ${missing[*]} with your package manager" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  # apt-get update only when the package lists do not know a package yet
  # (a fresh container has none); retried once below if the lists are stale.
  need_update=0
  for pkg in "${missing[@]}"; do
    if ! apt-cache show "$pkg" >/dev/null 2>&1; then need_update=1; fi
  done
  if [ "$need_update" -eq 1 ]; then
    echo "setup: apt-get update"
    apt-get update
  fi
  echo "setup: apt-get install -y ${missing[*]}"
  if ! apt-get install -y "${missing[@]}"; then
    echo "setup: install failed; refreshing package lists and retrying"
    apt-get update
    apt-get install -y "${missing[@]}"
  fi
fi

redis=$(find_redis) || { echo "setup: redis-server still not found after install" >&2; exit 1; }
pgbin=$(find_pg) || { echo "setup: postgres/initdb still not found after install" >&2; exit 1; }
echo "setup: redis-server: $redis ($("$redis" --version | sed -n 's/.*\(v=[^ ]*\).*/\1/p'))"
echo "setup: postgres: $pgbin/postgres ($("$pgbin/postgres" --version))"
echo "setup: initdb: $pgbin/initdb"
chromium=$(find_chromium) || { echo "setup: chromium still not found after install" >&2; exit 1; }
echo "setup: chromium: $chromium"
echo "setup: ok"
