#!/usr/bin/env bash
# Runs a bench command on a snapshot copy of this working tree, so the code under test cannot
# change mid-run (several people build in one checkout), then copies the results back.
#   bash bench/snapshot.sh npm run bench -- --full
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
snap="$(mktemp -d "${TMPDIR:-/tmp}/parley-bench-snapshot.XXXXXX")"
commit="$(git -C "$root" rev-parse --short HEAD)"
[ -n "$(git -C "$root" status --porcelain --untracked-files=no)" ] && commit="$commit+dirty"
export BENCH_COMMIT="$commit (working tree snapshot $(date -u +%Y-%m-%dT%H:%MZ))"
tar -C "$root" --exclude=./node_modules --exclude=./.git --exclude=./dist --exclude=./.tap --exclude=./tmp -cf - . | tar -C "$snap" -xf -
ln -s "$root/node_modules" "$snap/node_modules"
echo "snapshot: $snap ($BENCH_COMMIT)" >&2
status=0
(cd "$snap" && "$@") || status=$?
cp "$snap/bench/RESULTS.md" "$root/bench/RESULTS.md"
mkdir -p "$root/bench/results"
cp -r "$snap/bench/results/." "$root/bench/results/"
[ -f "$snap/bench/chart.svg" ] && cp "$snap/bench/chart.svg" "$root/bench/chart.svg"
rm -rf "$snap"
exit "$status"
