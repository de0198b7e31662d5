#!/usr/bin/env bash
# `npm test`: the whole suite with `bun test`, then one summary line
# ("N passed, N failed") that CI and people can read at a glance.
# Arguments go to bun test (`npm test -- test/unit`).
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .data
# Each run its own log (runs at the same time in one checkout must not mix), kept as last-test-run.log at the end.
log=.data/test-run.$$.log
trap 'mv -f "$log" .data/last-test-run.log 2>/dev/null' EXIT
bun test --timeout 120000 "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
passed=$(grep -aEo '^ *[0-9]+ pass$' "$log" | tail -n1 | grep -Eo '[0-9]+')
failed=$(grep -aEo '^ *[0-9]+ fail$' "$log" | tail -n1 | grep -Eo '[0-9]+')
skipped=$(grep -aEo '^ *[0-9]+ skip$' "$log" | tail -n1 | grep -Eo '[0-9]+')
echo
if [ -n "${passed:-}" ]; then
  echo "${passed:-0} passed, ${failed:-0} failed${skipped:+, $skipped skipped}"
else
  echo "0 passed, 1 failed (bun test printed no summary; see .data/last-test-run.log)"
  [ "$status" = 0 ] && status=1
fi
exit "$status"
