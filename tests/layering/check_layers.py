#!/usr/bin/env python3
"""Fails when a source file includes a header of a layer it must not depend on.

The libraries already refuse upward calls at link time (each unit-test binary links its own
library alone); this also catches header-only upward includes. The allowed edges are those of
the top-level CMakeLists.txt and docs/architecture.md."""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
# folder -> folders it may include (transitively closed below).
ALLOWED = {
    "conf": [],
    "healthcheck": ["conf"],
    "healthcheck/agent": ["healthcheck"],
    "sticky": ["conf"],
    "director/scheduler": ["conf"],
    "director/base": ["conf"],
    "director/protocol": ["conf"],
    "director/ctl": ["director/protocol", "director/base"],
    "director/nodes": ["director/base", "director/scheduler", "healthcheck"],
    "director/placement": ["director/base", "sticky"],
    "director/dataplane": ["director/base", "sticky", "bpf"],
    "director/health": ["director/nodes", "sticky"],
    "director/control": ["director/dataplane", "director/placement", "director/health",
                         "director/nodes", "director/protocol"],  # protocol: hand-over codec
    "director/ops": ["director/control", "director/protocol"],
    "director/app": ["director/ops"],
    "bpf": [],
}


def closure(folder, seen=None):
    seen = set() if seen is None else seen
    for dep in ALLOWED[folder]:
        if dep not in seen:
            seen.add(dep)
            closure(dep, seen)
    return seen


def owner(path):
    rel = path.relative_to(ROOT).parent.as_posix()
    while rel and rel not in ALLOWED:
        rel = rel.rpartition("/")[0]
    return rel or None


def main():
    bad = []
    include = re.compile(r'#include "([^"]+)"')
    for path in sorted(ROOT.glob("*/**/*")):
        if path.suffix not in (".h", ".cc", ".c") or "build" in path.parts[len(ROOT.parts)]:
            continue
        me = owner(path)
        if me is None:
            continue
        allowed = closure(me) | {me}
        for n, line in enumerate(path.read_text().splitlines(), 1):
            m = include.match(line.strip())
            if not m or "/" not in m.group(1):
                continue
            target = owner(ROOT / m.group(1))
            if target is not None and target not in allowed:
                bad.append(f"{path.relative_to(ROOT)}:{n}: {me} must not include {m.group(1)}")
    for b in bad:
        print(b)
    print(f"layering: {len(bad)} upward include(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
