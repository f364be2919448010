#!/usr/bin/env bash
# Runs every libFuzzer target for a bounded time from its checked-in corpus (CI smoke run).
# Usage: scripts/fuzz-smoke.sh [seconds-per-target]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
dir=build-fuzz
failed=0
count=0
for target in "$dir"/lib/*/fuzz_*; do
  [ -x "$target" ] || continue
  name=$(basename "$target")
  corpus_src=$(grep -lE "sallyport_fuzz_target\(${name#fuzz_}( |$)" lib/*/CMakeLists.txt | head -1 || true)
  [ -n "$corpus_src" ] || { echo "fuzz FAILED: no sallyport_fuzz_target for $name"; failed=$((failed + 1)); continue; }
  corpus="$(dirname "$corpus_src")/fuzz/corpus"
  work=$(mktemp -d)
  cp -r "$corpus"/*/. "$work"/ 2>/dev/null || true
  if "$target" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 -artifact_prefix="$work/" "$work" >"$work/log" 2>&1; then
    echo "fuzz ok: $name ($(grep -ao 'stat::number_of_executed_units: [0-9]*' "$work/log" | awk '{print $2}') runs)"
  else
    echo "fuzz FAILED: $name"; tail -40 "$work/log"; failed=$((failed + 1))
  fi
  count=$((count + 1))
  rm -rf "$work"
done
# Every declared target must have been built and run: a name the build missed counts as failed.
declared=$(grep -ho 'sallyport_fuzz_target([a-z0-9_]*' lib/*/CMakeLists.txt | wc -l)
if [ "$count" -ne "$declared" ]; then
  echo "fuzz FAILED: $declared targets declared, $count built and run"
  failed=$((failed + 1))
fi
echo "fuzz targets: $count run, $failed failed"
[ "$failed" -eq 0 ] && [ "$count" -gt 0 ]
