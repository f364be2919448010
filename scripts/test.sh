#!/usr/bin/env bash
# Runs every test: installs what is missing, builds, runs the whole ctest suite (unit, fuzz
# corpora, end-to-end) in the release build and again under ASan+UBSan, then gives each
# libFuzzer target a short run. Exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/sbin:$PATH"  # sshd lives there
scripts/install-deps.sh test || exit 1

total_passed=0
total_failed=0
status=0

run_suite() {  # run_suite BUILD_DIR LABEL
  local dir="$1" label="$2" log
  log=$(mktemp)
  echo "== ctest ($label) =="
  (cd "$dir" && ctest --output-on-failure --parallel 2 --timeout 900) 2>&1 | tee "$log"
  local summary
  summary=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -1)
  local failed total
  failed=$(echo "$summary" | sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/')
  total=$(echo "$summary" | sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\2/')
  if [ -z "$summary" ]; then
    echo "ctest ($label) did not finish"; status=1; rm -f "$log"; return
  fi
  total_passed=$((total_passed + total - failed))
  total_failed=$((total_failed + failed))
  [ "$failed" -eq 0 ] || status=1
  rm -f "$log"
}

scripts/build.sh release || exit 1
run_suite build release

if [ "${SALLYPORT_SKIP_SANITIZERS:-0}" != 1 ]; then
  scripts/build.sh asan || exit 1
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  run_suite build-asan "asan+ubsan"
  unset ASAN_OPTIONS UBSAN_OPTIONS
fi

if command -v clang++ >/dev/null && [ "${SALLYPORT_SKIP_FUZZ:-0}" != 1 ]; then
  echo "== libFuzzer smoke run =="
  fuzz_log=$(mktemp)
  if scripts/build.sh fuzz >"$fuzz_log" 2>&1 || { tail -60 "$fuzz_log"; false; } &&
     scripts/fuzz-smoke.sh "${SALLYPORT_FUZZ_SECONDS:-10}"; then
    total_passed=$((total_passed + 1))
  else
    total_failed=$((total_failed + 1)); status=1
  fi
  rm -f "$fuzz_log"
fi

echo
echo "all: ${total_passed} passed, ${total_failed} failed"
exit "$status"
