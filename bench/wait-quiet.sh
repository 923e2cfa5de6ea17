#!/usr/bin/env bash
# Waits until no other test suite or engine is loading the machine (polling every 30 s), so record
# runs get the box to themselves. An engine using under 2 % of a core is an idle leftover: ignored.
set -uo pipefail
busy() {
  local n=0
  for pid in $(pgrep -f "tap|dist/test|node dist/engine"); do
    [ "$pid" = "$$" ] && continue
    local a b
    a=$(awk '{print $14+$15}' "/proc/$pid/stat" 2>/dev/null) || continue
    sleep 0.5
    b=$(awk '{print $14+$15}' "/proc/$pid/stat" 2>/dev/null) || continue
    [ $((b - a)) -gt 1 ] && n=$((n + 1))
  done
  echo "$n"
}
while true; do
  n=$(busy)
  [ "$n" -eq 0 ] && { echo "machine quiet: $(date -u +%H:%M:%S)"; exit 0; }
  echo "$(date -u +%H:%M:%S): $n busy test/engine processes; waiting 30 s" >&2
  sleep 30
done
