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

# Text output, as terminals carry (base64 lines), and binary output, as a piped `tar` or
# `gzip` carries (random bytes), generated once.
payload_text="$work/payload.txt"
head -c $((mib * 3 / 4 * 1024 * 1024)) /dev/urandom | base64 -w 100 > "$payload_text"
payload_binary="$work/payload.bin"
head -c $((mib * 1024 * 1024)) /dev/urandom > "$payload_binary"

# start_gateway NAME EXTRA_ARGS...: a gateway with a registered, online agent named "local";
# the CLI's login for it is kept in $work/NAME-cli.
start_gateway() {
  local name=$1; shift
  export SALLYPORT_CONFIG_DIR="$work/$name-cli"
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

# bulk NAME FILE: MiB/s streaming FILE from the node to the client through gateway NAME.
bulk() {
  local start end bytes
  bytes=$(stat -c %s "$2")
  start=$(date +%s.%N)
  SALLYPORT_CONFIG_DIR="$work/$1-cli" "$bin/sallyport" start-session --target local -- cat "$2" 2> /dev/null | cat > /dev/null
  end=$(date +%s.%N)
  python3 -c "print(f'{$bytes / ($end - $start) / 1048576:.1f}')"
}

# One-byte round trips through `cat` on the node, alternating between the two gateways so
# both see the same moments of the machine: "on_p50 on_p99 off_p50 off_p99" in microseconds.
echo_rtt() {
  python3 - "$bin/sallyport" "$work/on-cli" "$work/off-cli" <<'PY'
import os, subprocess, sys, time
def start(config):
    env = dict(os.environ, SALLYPORT_CONFIG_DIR=config)
    return subprocess.Popen([sys.argv[1], "start-session", "--target", "local", "--", "cat"], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
sessions = [start(sys.argv[2]), start(sys.argv[3])]
samples = [[], []]
for i in range(2000):
    for side, p in enumerate(sessions):
        t = time.perf_counter()
        p.stdin.write(b"x")
        if p.stdout.read(1) != b"x":
            sys.exit("echo lost")
        if i >= 200:  # warm-up
            samples[side].append((time.perf_counter() - t) * 1e6)
for p in sessions:
    p.stdin.close(); p.wait()
out = []
for side in samples:
    side.sort()
    out += [f"{side[len(side)//2]:.0f}", f"{side[int(len(side)*0.99)]:.0f}"]
print(" ".join(out))
PY
}

start_gateway on --event-log "${BENCH_EVENT_LOG:-$work/on-events.log}"
start_gateway off --no-recording

# Interleaved rounds, so a busy moment on the machine hits both sides alike; median of 5.
cpu_seconds() { python3 -c "import os,sys; f=open(f'/proc/{sys.argv[1]}/stat').read().rsplit(')',1)[1].split(); print((int(f[11])+int(f[12]))/os.sysconf('SC_CLK_TCK'))" "$1"; }
declare -A runs
on_cpu_start=$(cpu_seconds "${pids[0]}"); off_cpu_start=$(cpu_seconds "${pids[2]}")
for round in 1 2 3 4 5; do
  for kind in text binary; do
    file=$payload_text; [ "$kind" = binary ] && file=$payload_binary
    for name in on off; do runs[$name-$kind]+="$(bulk "$name" "$file") "; done
  done
done
median() { python3 -c "import statistics, sys; print(statistics.median(float(x) for x in sys.argv[1:]))" $1; }
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
on_cpu=$(python3 -c "print(f'{($(cpu_seconds "${pids[0]}") - $on_cpu_start) * 1000 / (10 * $mib):.2f}')")
off_cpu=$(python3 -c "print(f'{($(cpu_seconds "${pids[2]}") - $off_cpu_start) * 1000 / (10 * $mib):.2f}')")
read -r on_p50 on_p99 off_p50 off_p99 < <(echo_rtt)

recorded=$(ls -1 "$work/on/recordings" | grep -c '\.cast$' || true)
echo "payload: $mib MiB of text (base64 lines) and $mib MiB of random bytes; recordings written with recording on: $recorded"
echo "recordings folder: $(du -sm "$work/on/recordings" | cut -f1) MiB for $((10 * mib)) MiB of output; event log: $(du -sm "${BENCH_EVENT_LOG:-$work/on-events.log}" | cut -f1) MiB"
printf '%-30s %12s %12s %8s\n' "" "recording on" "off" "on/off"
for kind in text binary; do
  on=$(median "${runs[on-$kind]}"); off=$(median "${runs[off-$kind]}")
  printf '%-30s %12s %12s %8s\n' "bulk $kind MiB/s (median of 5)" "$on" "$off" "$(ratio "$on" "$off")"
done
printf '%-30s %12s %12s %8s\n' "gateway CPU ms per MiB" "$on_cpu" "$off_cpu" "$(ratio "$off_cpu" "$on_cpu")"
printf '%-30s %12s %12s %8s\n' "echo p50 us" "$on_p50" "$off_p50" "$(ratio "$off_p50" "$on_p50")"
printf '%-30s %12s %12s %8s\n' "echo p99 us" "$on_p99" "$off_p99" "$(ratio "$off_p99" "$on_p99")"
echo "(on/off for echo is off-latency / on-latency, so higher is better everywhere; target >= 0.9)"
