#!/usr/bin/env bash
# Port-forwarding benchmark, all on loopback in one run:
#   bulk throughput of MIB mebibytes (default 512) through
#     1. `sallyport port-forward` (CLI -> gateway -> agent, TLS on both hops),
#     2. `ssh -J bastion -L` through a local OpenSSH server (used as bastion and as target),
#     3. a plain two-hop TCP relay of two socat processes,
#     4. a direct loopback copy (for reference);
#   the set-up time of a new forwarded connection (connect, one byte echoed) against
#   opening an `ssh -J` session (`ssh -J … true`); and the round trip of one byte on an open
#   forwarded connection against the same through `ssh -J -L`; and scp of up to 256 MiB to the
#   target through `sallyport proxy`, through `ssh -J`, and straight to the target's sshd.
# Usage: bench/port_forward.sh [BUILD_DIR] [MIB]   (BUILD_DIR default build-rel, else build)
# Build a release first, e.g. cmake -S . -B build-rel -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
#   && cmake --build build-rel --target sallyport sallyport-gateway sallyport-agent sallyport-tcp-bench
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/sbin:$PATH"
build="${1:-build-rel}"
[ -x "$build/apps/sallyport" ] || build=build
mib="${2:-512}"
apps="$PWD/$build/apps"
tool="$PWD/$build/bench/sallyport-tcp-bench"
for program in "$apps/sallyport" "$apps/sallyport-gateway" "$apps/sallyport-agent" "$tool" /usr/sbin/sshd /usr/bin/ssh /usr/bin/socat; do
  [ -x "$program" ] || { echo "missing $program (build the release targets; scripts/install-deps.sh test)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/sallyport-bench-XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
  echo $((20000 + RANDOM % 20000)); }
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; return 1; }
wait_line() {  # wait_line FILE REGEX
  for _ in $(seq 200); do grep -qE "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  echo "no '$2' in $1:" >&2; cat "$1" >&2; return 1
}

# --- gateway, agent, CLI login -------------------------------------------------------------
export SALLYPORT_CONFIG_DIR="$work/cli" SALLYPORT_ADMIN_PASSWORD="bench-Pa55word-$$"
gw_port=$(free_port)
"$apps/sallyport-gateway" --data-dir "$work/gw" --listen "127.0.0.1:$gw_port" --log-level warn >"$work/gw.out" 2>"$work/gw.err" &
pids+=($!); gateway_pid=$!
wait_line "$work/gw.out" "CA fingerprint"
fingerprint=$(sed -n 's/^CA fingerprint: //p' "$work/gw.out")
SALLYPORT_PASSWORD="$SALLYPORT_ADMIN_PASSWORD" "$apps/sallyport" login --gateway "https://127.0.0.1:$gw_port" --user admin \
  --ca-fingerprint "$fingerprint" >/dev/null
activation=$("$apps/sallyport" activations create --name bench --limit 1 --expires 1h)
"$apps/sallyport-agent" register --gateway "https://127.0.0.1:$gw_port" --ca-fingerprint "$fingerprint" \
  --activation-id "$(echo "$activation" | sed -n 's/^Activation ID: *//p')" \
  --activation-code "$(echo "$activation" | sed -n 's/^Activation code: *\([^ ]*\).*/\1/p')" \
  --state-dir "$work/agent" --name bench-node >/dev/null
"$apps/sallyport-agent" run --state-dir "$work/agent" 2>"$work/agent.err" &
pids+=($!); agent_pid=$!
for _ in $(seq 100); do "$apps/sallyport" nodes ls 2>/dev/null | grep -q Online && break; sleep 0.1; done

# --- sshd on loopback (bastion and target) -------------------------------------------------
ssh-keygen -q -t ed25519 -N "" -f "$work/host_key"
ssh-keygen -q -t ed25519 -N "" -f "$work/client_key"
cp "$work/client_key.pub" "$work/authorized_keys"
ssh_port=$(free_port)
user=$(id -un)
cat >"$work/sshd_config" <<CONF
Port $ssh_port
ListenAddress 127.0.0.1
ListenAddress 127.0.0.2
HostKey $work/host_key
AuthorizedKeysFile $work/authorized_keys
PidFile $work/sshd.pid
StrictModes no
UsePAM no
PasswordAuthentication no
PermitRootLogin prohibit-password
LogLevel ERROR
Subsystem sftp internal-sftp
CONF
[ "$(id -u)" -eq 0 ] && mkdir -p /run/sshd
/usr/sbin/sshd -D -e -f "$work/sshd_config" 2>"$work/sshd.err" &
pids+=($!)
wait_port "$ssh_port"
cat >"$work/ssh_config" <<CONF
Host *
  User $user
  IdentityFile $work/client_key
  BatchMode yes
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  LogLevel ERROR
CONF
# The bastion at 127.0.0.1, the target at 127.0.0.2 (ssh refuses a jump to itself).
ssh_j=(ssh -F "$work/ssh_config" -J "$user@127.0.0.1:$ssh_port" -p "$ssh_port" "$user@127.0.0.2")

# --- the receiving ends --------------------------------------------------------------------
sink_port=$(free_port)
"$tool" sink "$sink_port" & pids+=($!)
echo_port=$(free_port)
"$tool" echo "$echo_port" & pids+=($!)
wait_port "$sink_port"; wait_port "$echo_port"

# --- the four paths ------------------------------------------------------------------------
"$apps/sallyport" port-forward --target bench-node --remote-port "$sink_port" >"$work/pf.out" 2>"$work/pf.err" &
pids+=($!); forward_pid=$!
wait_line "$work/pf.out" "Port [0-9]+ opened"
pf_port=$(sed -nE 's/^Port ([0-9]+) opened.*/\1/p' "$work/pf.out")

ssh_l_port=$(free_port)
"${ssh_j[@]}" -N -L "$ssh_l_port:127.0.0.1:$sink_port" 2>"$work/ssh-l.err" &
pids+=($!)
wait_port "$ssh_l_port" || { cat "$work/ssh-l.err" >&2; exit 1; }

relay_b=$(free_port)
relay_a=$(free_port)
socat "TCP-LISTEN:$relay_b,bind=127.0.0.1,reuseaddr,fork" "TCP:127.0.0.1:$sink_port" & pids+=($!)
socat "TCP-LISTEN:$relay_a,bind=127.0.0.1,reuseaddr,fork" "TCP:127.0.0.1:$relay_b" & pids+=($!)
wait_port "$relay_a"; wait_port "$relay_b"

"$tool" send "$pf_port" 16 >/dev/null  # warm-up
measure() {  # measure PORT -> best MiB/s of two runs
  local best=0 rate
  for _ in 1 2; do
    rate=$("$tool" send "$1" "$mib" | awk '{print $3}')
    best=$(awk -v a="$best" -v b="$rate" 'BEGIN{print (b>a)?b:a}')
  done
  echo "$best"
}
echo "Bulk throughput, $mib MiB, best of 2 (MiB/s):"
cpu_ticks() { awk '{print $14 "," $15}' "/proc/$1/stat"; }  # user,system in clock ticks
cpu_before="$(cpu_ticks "$forward_pid") $(cpu_ticks "$gateway_pid") $(cpu_ticks "$agent_pid")"
sallyport_rate=$(measure "$pf_port");   printf '  %-36s %8.1f\n' "sallyport port-forward" "$sallyport_rate"
cpu_after="$(cpu_ticks "$forward_pid") $(cpu_ticks "$gateway_pid") $(cpu_ticks "$agent_pid")"
ssh_rate=$(measure "$ssh_l_port");      printf '  %-36s %8.1f\n' "ssh -J bastion -L" "$ssh_rate"
socat_rate=$(measure "$relay_a");       printf '  %-36s %8.1f\n' "socat two-hop relay" "$socat_rate"
direct_rate=$(measure "$sink_port");    printf '  %-36s %8.1f\n' "direct loopback" "$direct_rate"

python3 - "$cpu_before" "$cpu_after" "$((2 * mib))" "$(getconf CLK_TCK)" <<'PY'
import sys
before, after = ([[int(t) for t in x.split(",")] for x in arg.split()] for arg in sys.argv[1:3])
mib, tick = int(sys.argv[3]), int(sys.argv[4])
ms = lambda a, b, i: (a[i] - b[i]) * 1000 / tick / mib
user = [ms(a, b, 0) for a, b in zip(after, before)]
system = [ms(a, b, 1) for a, b in zip(after, before)]
print("  CPU ms per MiB forwarded: CLI %.2f, gateway %.2f, agent %.2f (sum %.2f)" %
      (*[u + s for u, s in zip(user, system)], sum(user) + sum(system)))
print("    of which in the kernel:  CLI %.2f, gateway %.2f, agent %.2f" % tuple(system))
PY

# --- connection set-up ---------------------------------------------------------------------
"$apps/sallyport" port-forward --target bench-node --remote-port "$echo_port" >"$work/pf-echo.out" 2>&1 &
pids+=($!)
wait_line "$work/pf-echo.out" "Port [0-9]+ opened"
pf_echo=$(sed -nE 's/^Port ([0-9]+) opened.*/\1/p' "$work/pf-echo.out")
read -r new_conn_mean new_conn_median < <("$tool" connect "$pf_echo" 50)
ssh_echo_port=$(free_port)
"${ssh_j[@]}" -N -L "$ssh_echo_port:127.0.0.1:$echo_port" 2>"$work/ssh-echo.err" &
pids+=($!)
wait_port "$ssh_echo_port" || { cat "$work/ssh-echo.err" >&2; exit 1; }
read -r pf_rtt_p50 pf_rtt_p99 < <("$tool" pingpong "$pf_echo" 2000)
read -r ssh_rtt_p50 ssh_rtt_p99 < <("$tool" pingpong "$ssh_echo_port" 2000)
ssh_total=0
for _ in 1 2 3 4 5; do
  began=$(date +%s%N)
  "${ssh_j[@]}" true
  ssh_total=$((ssh_total + $(date +%s%N) - began))
done
ssh_open_ms=$(awk -v t="$ssh_total" 'BEGIN{printf "%.1f", t/5/1e6}')
proxy_total=0
for _ in 1 2 3 4 5; do
  began=$(date +%s%N)
  ssh -F "$work/ssh_config" -o ProxyCommand="$apps/sallyport proxy --target %h --port $ssh_port" bench-node true
  proxy_total=$((proxy_total + $(date +%s%N) - began))
done
proxy_open_ms=$(awk -v t="$proxy_total" 'BEGIN{printf "%.1f", t/5/1e6}')
# --- scp: through `sallyport proxy`, through `ssh -J`, and straight to the target -----------
scp_mib=$(( mib < 256 ? mib : 256 ))
head -c $((scp_mib << 20)) /dev/urandom >"$work/scp-payload"
scp_rate() {  # scp_rate SCP_ARGS... -> best MB/s of two copies of the payload to the target
  local best=0 began elapsed
  for _ in 1 2; do
    rm -f "$work/scp-copy"
    began=$(date +%s%N)
    scp -q -F "$work/ssh_config" "$@" "$work/scp-payload" "$user@127.0.0.2:$work/scp-copy" 2>>"$work/scp.err" || { cat "$work/scp.err" >&2; exit 1; }
    elapsed=$(( $(date +%s%N) - began ))
    cmp -s "$work/scp-payload" "$work/scp-copy" || { echo "scp copy differs" >&2; exit 1; }
    best=$(awk -v a="$best" -v n="$((scp_mib << 20))" -v t="$elapsed" 'BEGIN{r=n/t*1e3; print (r>a)?r:a}')
  done
  rm -f "$work/scp-copy"
  echo "$best"
}
scp_proxy=$(scp_rate -o ProxyCommand="$apps/sallyport proxy --target bench-node --port $ssh_port" -P "$ssh_port")
scp_jump=$(scp_rate -J "$user@127.0.0.1:$ssh_port" -P "$ssh_port")
scp_direct=$(scp_rate -P "$ssh_port")
rm -f "$work/scp-payload"

echo "Connection set-up (ms):"
printf '  %-36s %8.2f (median %.2f, 50 connections)\n' "new connection on a port-forward" "$new_conn_mean" "$new_conn_median"
printf '  %-36s %8.1f (mean of 5)\n' "ssh -J … true (new session)" "$ssh_open_ms"
printf '  %-36s %8.1f (mean of 5)\n' "ssh via sallyport proxy … true" "$proxy_open_ms"

echo "scp of $scp_mib MiB to the target, best of 2 (MB/s):"
printf '  %-36s %8.1f\n' "scp via sallyport proxy" "$scp_proxy"
printf '  %-36s %8.1f\n' "scp -J bastion" "$scp_jump"
printf '  %-36s %8.1f\n' "scp straight to the target" "$scp_direct"

echo "One-byte round trip on an open connection (ms, 2000 round trips):"
printf '  %-36s p50 %6.3f  p99 %6.3f\n' "sallyport port-forward" "$pf_rtt_p50" "$pf_rtt_p99"
printf '  %-36s p50 %6.3f  p99 %6.3f\n' "ssh -J bastion -L" "$ssh_rtt_p50" "$ssh_rtt_p99"

echo "Ratios:"
awk -v s="$sallyport_rate" -v j="$ssh_rate" -v r="$socat_rate" -v d="$direct_rate" -v c="$new_conn_mean" -v o="$ssh_open_ms" 'BEGIN{
  printf "  throughput vs ssh -J:        %.2fx (target >= 3)\n", s/j
  printf "  throughput vs socat relay:   %.2fx (target >= 0.8)\n", s/r
  printf "  throughput vs direct:        %.2fx\n", s/d
  printf "  set-up vs ssh -J session:    %.3fx (target <= 0.1)\n", c/o }'
awk -v a="$pf_rtt_p50" -v b="$ssh_rtt_p50" -v c="$pf_rtt_p99" -v d="$ssh_rtt_p99" 'BEGIN{
  printf "  round trip vs ssh -J -L:     p50 %.2fx, p99 %.2fx (lower is better)\n", a/b, c/d }'
awk -v p="$scp_proxy" -v j="$scp_jump" -v d="$scp_direct" 'BEGIN{
  printf "  scp via proxy vs scp -J:     %.2fx\n", p/j
  printf "  scp via proxy vs straight:   %.2fx\n", p/d }'
