#!/usr/bin/env bash
# The main job: install, build, start a lab of 3 local sshd nodes and run the director in
# front of them (foreground; Ctrl-C stops everything). Then, from another terminal:
#   ssh -i /var/tmp/tsdirector-demo/id_ed25519 -p 2222 root@127.0.0.1
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release tsdirector tsdirectorctl tsdirector-agent  # only what the demo runs
dir=/var/tmp/tsdirector-demo
scripts/lab.sh start "$dir" 3
trap 'scripts/lab.sh stop "$dir"' EXIT
mkdir -p /run/tsdirector "$dir/state"
cat <<MSG

  tsdirector demo: director on 127.0.0.1:2222 and [::1]:2222 in front of demo1..demo3.
  Log in through it:   ssh -i $dir/id_ed25519 -p 2222 root@127.0.0.1
  Node list:           curl -s http://127.0.0.1:9108/nodes
  Metrics:             curl -s http://127.0.0.1:9108/metrics
  Status page:         http://127.0.0.1:9108/
  Admin:               build/bin/tsdirectorctl -c conf/demo.ini nodes   (also: sessions, sticky)
  Stop:                Ctrl-C

MSG
build/bin/tsdirector -c conf/demo.ini --log-level "${LOG_LEVEL:-info}"
