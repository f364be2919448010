#!/usr/bin/env bash
# Recording overhead: bulk output throughput and keystroke-echo round trip through a session,
# once with recording and streaming on and once with --no-recording, in one run on loopback.
# Target: with recording >= 0.9x without. Not a test: prints figures.
# Usage: bench/recording.sh [BUILD_DIR] [MiB]     (default build/, 256 MiB)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
mib="${2:-256}"
bin="$build/apps"
work="$(mktemp -d /tmp/sallyport-bench-rec.XXXXXX)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export SALLYPORT_CONFIG_DIR="$work/cli" SALLYPORT_ADMIN_PASSWORD="bench-Pa55word-rec" SALLYPORT_PASSWORD="bench-Pa55word-rec"

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Text output, as terminals carry (base64 lines), generated once.
payload="$work/payload.txt"
head -c $((mib * 3 / 4 * 1024 * 1024)) /dev/urandom | base64 -w 100 > "$payload"
bytes=$(stat -c %s "$payload")

# start_gateway NAME EXTRA_ARGS...: a gateway with a registered, online agent named "local".
start_gateway() {
  local name=$1; shift
  local p; p=$(port)
  "$bin/sallyport-gateway" --data-dir "$work/$name" --listen "127.0.0.1:$p" "$@" > "$work/$name.out" 2> "$work/$name.err" &
  pids+=($!)
  for _ in $(seq 100); do grep -q 'CA fingerprint' "$work/$name.out" 2>/dev/null && break; sleep 0.1; done
  local fp; fp=$(sed -n 's/^CA fingerprint: //p' "$work/$name.out")
  "$bin/sallyport" login --gateway "https://127.0.0.1:$p" --user admin --ca-fingerprint "$fp" > /dev/null
  "$bin/sallyport" preferences set default_run_as root > /dev/null
  local activation; activation=$("$bin/sallyport" activations create)
  local id code
  id=$(sed -n 's/^Activation ID: //p' <<< "$activation")
  code=$(sed -n 's/^Activation code: \([^ ]*\).*/\1/p' <<< "$activation")
  "$bin/sallyport-agent" register --gateway "https://127.0.0.1:$p" --ca-fingerprint "$fp" --activation-id "$id" \
    --activation-code "$code" --state-dir "$work/$name-agent" --name local > /dev/null 2>&1
  "$bin/sallyport-agent" run --state-dir "$work/$name-agent" 2> "$work/$name-agent.err" &
  pids+=($!)
  for _ in $(seq 100); do "$bin/sallyport" nodes ls | grep -q Online && break; sleep 0.1; done
}

# Seconds to stream the payload from the node to the client.
bulk() {
  local start end
  start=$(date +%s.%N)
  "$bin/sallyport" start-session --target local -- cat "$payload" 2> /dev/null | cat > /dev/null
  end=$(date +%s.%N)
  python3 -c "print(f'{$bytes / ($end - $start) / 1048576:.1f}')"
}

# p50 and p99 of one-byte round trips through `cat` on the node, in microseconds.
echo_rtt() {
  python3 - "$bin/sallyport" <<'PY'
import os, subprocess, sys, time
p = subprocess.Popen([sys.argv[1], "start-session", "--target", "local", "--", "cat"],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
samples = []
for i in range(600):
    t = time.perf_counter()
    p.stdin.write(b"x")
    if p.stdout.read(1) != b"x":
        sys.exit("echo lost")
    if i >= 100:  # warm-up
        samples.append((time.perf_counter() - t) * 1e6)
p.stdin.close(); p.wait()
samples.sort()
print(f"{samples[len(samples)//2]:.0f} {samples[int(len(samples)*0.99)]:.0f}")
PY
}

start_gateway on --event-log "${BENCH_EVENT_LOG:-$work/on-events.log}"
on_bulk=$(bulk); on_bulk2=$(bulk); read -r on_p50 on_p99 < <(echo_rtt)
kill "${pids[0]}" "${pids[1]}"; wait "${pids[0]}" "${pids[1]}" 2>/dev/null || true; pids=()
start_gateway off --no-recording
off_bulk=$(bulk); off_bulk2=$(bulk); read -r off_p50 off_p99 < <(echo_rtt)

best() { python3 -c "print(max($1, $2))"; }
on_best=$(best "$on_bulk" "$on_bulk2"); off_best=$(best "$off_bulk" "$off_bulk2")
recorded=$(ls -1 "$work/on/recordings" | grep -c '\.cast$' || true)
echo "payload: $((bytes / 1048576)) MiB of text; recordings written with recording on: $recorded"
printf '%-28s %12s %12s %8s\n' "" "recording on" "off" "on/off"
printf '%-28s %12s %12s %8s\n' "bulk output MiB/s (best of 2)" "$on_best" "$off_best" "$(python3 -c "print(f'{$on_best/$off_best:.2f}')")"
printf '%-28s %12s %12s %8s\n' "echo p50 us" "$on_p50" "$off_p50" "$(python3 -c "print(f'{$off_p50/$on_p50:.2f}')")"
printf '%-28s %12s %12s %8s\n' "echo p99 us" "$on_p99" "$off_p99" "$(python3 -c "print(f'{$off_p99/$on_p99:.2f}')")"
echo "(on/off for echo is off-latency / on-latency, so higher is better everywhere; target >= 0.9)"
