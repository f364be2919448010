#!/usr/bin/env bash
# Configures and builds one flavour: release (default, build/) or asan (build-asan/,
# AddressSanitizer + UndefinedBehaviorSanitizer) or fuzz (build-fuzz/, clang + libFuzzer).
set -euo pipefail
cd "$(dirname "$0")/.."
flavour="${1:-release}"
jobs="$(nproc)"
# Paths relative to the checkout, so a fresh clone elsewhere (CI) still hits the cache.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1

case "$flavour" in
  release) dir=build; flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  asan) dir=build-asan; flags=(-DCMAKE_BUILD_TYPE=Debug -DSALLYPORT_SANITIZE=ON) ;;
  fuzz) dir=build-fuzz; flags=(-DCMAKE_BUILD_TYPE=Debug -DSALLYPORT_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++) ;;
  *) echo "usage: $0 [release|asan|fuzz]" >&2; exit 2 ;;
esac
cmake -S . -B "$dir" -G Ninja "${flags[@]}" >/dev/null
if [ "$flavour" = fuzz ]; then
  targets=$(cmake --build "$dir" --target help | sed -n 's/^\(fuzz_[a-z0-9_]*\):.*/\1/p')
  # shellcheck disable=SC2086
  cmake --build "$dir" -j "$jobs" --target $targets
else
  cmake --build "$dir" -j "$jobs"
fi
echo "$dir"
