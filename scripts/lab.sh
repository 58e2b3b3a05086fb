#!/usr/bin/env bash
# A small local lab of desktop nodes: N real sshd instances on 127.0.0.11.. port 2200 (one
# shared host key, as all nodes behind one director address need), each with a
# tsdirector-agent on port 7801 of the same address.
#   scripts/lab.sh start [DIR] [N]    (default /var/tmp/tsdirector-demo, 3 nodes)
#   scripts/lab.sh stop  [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
cmd=${1:-start}
dir=${2:-/var/tmp/tsdirector-demo}
n=${3:-3}
bin=${TSD_BIN:-$PWD/build/bin}

stop() {
  for f in "$dir"/*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f")
    kill "$pid" 2>/dev/null || true
    rm -f "$f"
  done
}

start() {
  mkdir -p "$dir" /run/sshd
  chmod 755 "$dir"
  [ -f "$dir/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$dir/ssh_host_ed25519_key"
  [ -f "$dir/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C tsdirector-demo -f "$dir/id_ed25519"
  cp "$dir/id_ed25519.pub" "$dir/authorized_keys"
  chmod 644 "$dir/authorized_keys"
  [ -f "$dir/agent.key" ] || (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dir/agent.key")
  stop
  for i in $(seq 1 "$n"); do
    ip="127.0.0.$((10 + i))"
    cat > "$dir/sshd_node$i.conf" <<CONF
ListenAddress $ip:2200
HostKey $dir/ssh_host_ed25519_key
PidFile $dir/sshd_node$i.pid
AuthorizedKeysFile $dir/authorized_keys .ssh/authorized_keys
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
LogLevel ERROR
CONF
    /usr/sbin/sshd -f "$dir/sshd_node$i.conf" -E "$dir/sshd_node$i.log"
    if [ -x "$bin/tsdirector-agent" ]; then
      # The nodes share this host: --node-address keeps each agent to its own node's sessions
      # (sshd connections to $ip, tmux sessions whose SSH_CONNECTION names it).
      "$bin/tsdirector-agent" --listen "$ip:7801" --key-file "$dir/agent.key" \
        --node-name "demo$i" --node-address "$ip" 2>>"$dir/agent_node$i.log" &
      echo $! > "$dir/agent_node$i.pid"
    fi
  done
  echo "lab: $n sshd nodes on 127.0.0.11-$((10 + n)):2200 (agents on :7801), state in $dir"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop [DIR] [N]" >&2; exit 2 ;;
esac
