#!/usr/bin/env bash
# Installs every Debian package tsdirector needs to build, test, demo and benchmark.
# Idempotent and non-interactive; skips apt entirely when everything is present.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config git ca-certificates
  clang llvm libclang-rt-14-dev bpftool libbpf-dev
  libevent-dev libssl-dev prometheus-cpp-dev libinih-dev nlohmann-json3-dev libgtest-dev libbenchmark-dev
  clang-format clang-tidy
  openssh-server openssh-client tmux iproute2 iptables nftables procps psmisc util-linux libcap2-bin
  python3 python3-pytest curl jq dpkg-dev file keepalived lintian perl
  iperf3 haproxy nginx-light libnginx-mod-stream
  chromium prometheus  # the status page browser test; promtool for the alert rule tests
  # the real X2Go end-to-end test (tests/e2e/test_x2go_e2e.py)
  x2goserver x2goserver-xsession nxagent nxproxy python3-x2go pyhoca-cli xvfb xterm xauth x11-utils
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# Services from these packages (haproxy, nginx, keepalived, ssh) are used only by our own
# tests with their own configs; do not let the packages start them on install.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
