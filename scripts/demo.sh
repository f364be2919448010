#!/usr/bin/env bash
# The main job: installs what is missing, builds, starts a gateway on its embedded defaults
# (SQLite, private CA, 127.0.0.1:8443) with a local agent registered to it, logs the CLI in
# as admin, and prints what to type next. Ctrl-C stops both.
# Environment: SALLYPORT_DEMO_DIR (default ./demo), SALLYPORT_DEMO_LISTEN (127.0.0.1:8443).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
scripts/install-deps.sh build
scripts/build.sh release >/dev/null
bin="$root/build/apps"
demo="${SALLYPORT_DEMO_DIR:-$root/demo}"
listen="${SALLYPORT_DEMO_LISTEN:-127.0.0.1:8443}"
url="https://$listen"
mkdir -p "$demo"

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

"$bin/sallyport-gateway" --data-dir "$demo/gw" --listen "$listen" --log-file "$demo/gateway.log" >"$demo/gateway.out" &
pids+=($!)
for _ in $(seq 100); do
  grep -q "CA fingerprint" "$demo/gateway.out" 2>/dev/null && break
  kill -0 "${pids[0]}" 2>/dev/null || { cat "$demo/gateway.out" "$demo/gateway.log" >&2; exit 1; }
  sleep 0.1
done
fingerprint=$(sed -n 's/^CA fingerprint: //p' "$demo/gateway.out")

if [ -n "${SALLYPORT_ADMIN_PASSWORD:-}" ]; then
  password="$SALLYPORT_ADMIN_PASSWORD"
else
  password=$(cat "$demo/gw/initial-admin-password")
fi
SALLYPORT_PASSWORD="$password" "$bin/sallyport" login --gateway "$url" --user admin --ca-fingerprint "$fingerprint" >/dev/null

if [ ! -f "$demo/agent/agent.json" ]; then
  activation=$("$bin/sallyport" activations create --name local --tags env=demo --limit 1 --expires 1h)
  id=$(echo "$activation" | sed -n 's/^Activation ID: *//p')
  code=$(echo "$activation" | sed -n 's/^Activation code: *\([^ ]*\).*/\1/p')
  "$bin/sallyport-agent" register --gateway "$url" --ca-fingerprint "$fingerprint" \
    --activation-id "$id" --activation-code "$code" --state-dir "$demo/agent" --name local >/dev/null
fi
"$bin/sallyport-agent" run --state-dir "$demo/agent" --create-run-as-user 2>"$demo/agent.log" &
pids+=($!)
for _ in $(seq 100); do
  "$bin/sallyport" nodes ls 2>/dev/null | grep -q Online && break
  sleep 0.1
done

cat <<MSG

Sallyport is running.
  Gateway:        $url   (state in $demo/gw, log in $demo/gateway.log)
  Web console:    $url/   (log in as admin; the CA is $demo/gw/tls/ca.pem)
  CA fingerprint: $fingerprint
  Admin password: $( [ -n "${SALLYPORT_ADMIN_PASSWORD:-}" ] && echo "from SALLYPORT_ADMIN_PASSWORD" || echo "in $demo/gw/initial-admin-password" )
  Local agent:    node "local" (state in $demo/agent, log in $demo/agent.log)

The CLI is logged in as admin. In another terminal:
  $bin/sallyport nodes ls
  $bin/sallyport start-session --target local
  $bin/sallyport start-session --target local -- uname -a
  $bin/sallyport sessions ls --state history
  $bin/sallyport audit ls --since 1h
To log in elsewhere:
  sallyport login --gateway $url --user admin --ca-fingerprint $fingerprint

Press Ctrl-C to stop the gateway and the agent.
MSG
"$bin/sallyport" nodes ls || true
wait
