#!/usr/bin/env bash
# The whole test suite: installs packages, builds (release, ASan+UBSan, libFuzzer), then runs
# unit tests, integration tests (real binary on loopback) on both builds, end-to-end tests
# (network namespaces, real sshd/ssh), the packages (install, upgrade, purge) and fuzz smoke runs. Needs root
# (namespaces, eBPF, transparent mode); CI runs it as root with CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
step() { printf '\n=== %s (+%ss)\n' "$*" "$(( $(date +%s) - start ))"; }

step "install dependencies"
scripts/install-deps.sh
if [ "$(id -u)" -ne 0 ]; then
  echo "test.sh: run as root (network namespaces, eBPF, IP_TRANSPARENT)" >&2
  exit 1
fi
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf 2>/dev/null || true
ulimit -n "$(ulimit -Hn)"
PY=/usr/bin/python3

step "format check"
files=$(git ls-files '*.cc' '*.h' | grep -v '^bpf/.*\.bpf\.c$' || true)
[ -z "$files" ] || clang-format --dry-run -Werror $files

step "build release"
scripts/build.sh release
step "build asan+ubsan"
scripts/build.sh asan
step "build fuzz targets"
scripts/build.sh fuzz

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
step "unit tests (release)"
ctest --test-dir build --output-on-failure -j2 --timeout 300
step "unit tests (asan+ubsan)"
ctest --test-dir build-asan --output-on-failure -j2 --timeout 300

step "integration tests (release)"
TSD_BUILD="$PWD/build" $PY -m pytest -q -p no:cacheprovider tests/integration
step "integration tests (asan+ubsan)"
TSD_BUILD="$PWD/build-asan" TSD_SANITIZED=1 $PY -m pytest -q -p no:cacheprovider tests/integration

step "packages (cpack, lintian, dpkg install/upgrade/purge)"
TSD_BUILD="$PWD/build" $PY -m pytest -q -p no:cacheprovider tests/packaging

if [ -d tests/e2e ] && ls tests/e2e/test_*.py >/dev/null 2>&1; then
  step "end-to-end tests (network namespaces, sshd, ssh, tmux)"
  TSD_BUILD="$PWD/build" $PY -m pytest -q -p no:cacheprovider tests/e2e
fi

step "fuzz smoke runs"
for f in build-fuzz/bin/fuzz_*; do
  name=$(basename "$f")
  corpus=$(mktemp -d)
  seeds=tests/fuzz/corpus/$name
  [ -d "$seeds" ] && cp -r "$seeds"/. "$corpus"/
  "$f" -max_total_time="${FUZZ_SECONDS:-15}" -max_len=65536 -print_final_stats=1 "$corpus" \
    >"$corpus.log" 2>&1 || { tail -40 "$corpus.log"; echo "fuzz target $name failed"; exit 1; }
  echo "$name: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$corpus.log" | tr -s ' ' | cut -d' ' -f2) runs, ok"
  rm -rf "$corpus" "$corpus.log"
done

step "done: all tests passed in $(( $(date +%s) - start ))s"
