"""The Debian packages as an admin gets them: built with cpack from the build tree, checked
with lintian, installed on this machine with dpkg -i, the installed example checked with
`tsdirector --check-config`, owners and modes, a reinstall and an upgrade that keep an edited
conffile, remove and purge. Needs root and a machine where the packages are not installed; the
machine is restored (both packages purged, a `tsdirector` user this test created removed) even
when a step fails. Run: TSD_BUILD=$PWD/build python3 -m pytest tests/packaging"""
import grp
import os
import pathlib
import pwd
import shutil
import socket
import stat
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("TSD_BUILD", ROOT / "build"))
PKGS = ["tsdirector", "tsdirector-agent"]
INI = pathlib.Path("/etc/tsdirector/tsdirector.ini")
KEY = pathlib.Path("/etc/tsdirector/agent.key")
AGENT_DIR = pathlib.Path("/etc/tsdirector-agent")
STATE = pathlib.Path("/var/lib/tsdirector")
MAN = {"tsdirector": "8", "tsdirectorctl": "8", "tsdirector-agent": "8", "tsdirector.ini": "5"}

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="installs packages: needs root")


def run(*cmd, check=True, timeout=120):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    if check:
        assert r.returncode == 0, f"{' '.join(map(str, cmd))}: rc {r.returncode}\n{r.stdout}{r.stderr}"
    return r


def installed(pkg):
    r = run("dpkg-query", "-W", "-f=${Status}", pkg, check=False)
    return r.returncode == 0 and "not-installed" not in r.stdout


def version(pkg):
    return run("dpkg-query", "-W", "-f=${Version}", pkg).stdout


def mode(p):
    return stat.S_IMODE(os.stat(p).st_mode)


def owner(p):
    st = os.stat(p)
    return pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


@pytest.fixture(scope="module")
def debs(tmp_path_factory):
    for tool in ["cpack", "dpkg-deb", "lintian", "pod2man"]:
        assert shutil.which(tool), f"{tool} missing (scripts/install-deps.sh)"
    run("cmake", "--build", str(BUILD), "--target", "tsdirector", "tsdirectorctl",
        "tsdirector-agent", "tsd_man", "tsd_deb_changelog", timeout=900)
    out = tmp_path_factory.mktemp("debs")
    run("cpack", "-G", "DEB", "-B", str(out), "--config", str(BUILD / "CPackConfig.cmake"),
        timeout=300)
    found = {p.name.split("_")[0]: p for p in out.glob("*.deb")}
    assert sorted(found) == PKGS, found
    return found


@pytest.fixture
def machine():
    """Refuses a machine that has the packages already; purges them afterwards in any case."""
    already = [p for p in PKGS if installed(p)]
    assert not already, f"{already} already installed here; this test installs and purges them"
    assert not INI.parent.exists() and not STATE.exists() and not AGENT_DIR.exists(), \
        "leftovers of an earlier install in /etc/tsdirector, /etc/tsdirector-agent or /var/lib/tsdirector"
    had_user = user_exists("tsdirector")
    try:
        yield
    finally:
        for p in reversed(PKGS):
            if installed(p):
                run("dpkg", "--purge", p, check=False)
        if not had_user and user_exists("tsdirector"):
            run("deluser", "--system", "--quiet", "tsdirector", check=False)
            run("delgroup", "--system", "--quiet", "tsdirector", check=False)


def test_package_contents_and_lintian(debs):
    contents = {p: run("dpkg-deb", "--contents", str(d)).stdout for p, d in debs.items()}
    for path in ["./usr/bin/tsdirector", "./usr/bin/tsdirectorctl",
                 "./lib/systemd/system/tsdirector.service", "./etc/tsdirector/tsdirector.ini",
                 "./usr/share/doc/tsdirector/copyright", "./usr/share/doc/tsdirector/changelog.gz",
                 "./usr/share/doc/tsdirector/configuration.md",
                 "./usr/share/doc/tsdirector/examples/keepalived.conf.example",
                 "./usr/share/doc/tsdirector/examples/prometheus-alerts.yml",
                 "./usr/share/man/man8/tsdirector.8.gz", "./usr/share/man/man8/tsdirectorctl.8.gz",
                 "./usr/share/man/man5/tsdirector.ini.5.gz"]:
        assert path in contents["tsdirector"], path
    for path in ["./usr/bin/tsdirector-agent", "./lib/systemd/system/tsdirector-agent.service",
                 "./usr/share/man/man8/tsdirector-agent.8.gz",
                 "./usr/share/doc/tsdirector-agent/copyright"]:
        assert path in contents["tsdirector-agent"], path
    assert "tsdirector-agent" not in contents["tsdirector"]
    assert "/usr/bin/tsdirector\n" not in contents["tsdirector-agent"]
    conffiles = run("dpkg-deb", "--info", str(debs["tsdirector"]), "conffiles").stdout
    assert conffiles.split() == [str(INI)]  # local edits survive upgrades
    fields = run("dpkg-deb", "--field", str(debs["tsdirector"])).stdout
    assert "adduser" in fields and "libevent" in fields and "Maintainer:" in fields
    # Errors and warnings; the remaining info tags are explained in docs/packages.md.
    r = run("lintian", "--fail-on", "error,warning", *map(str, debs.values()), check=False)
    tags = [l for l in r.stdout.splitlines() if l[:2] in ("E:", "W:")]
    assert r.returncode == 0 and not tags, r.stdout + r.stderr


def edit_config():
    text = INI.read_text()
    assert "connect_attempts = 3" in text
    INI.write_text(text.replace("connect_attempts = 3", "connect_attempts = 2  ; local edit"))


def check_installed():
    for prog in ["tsdirector", "tsdirectorctl", "tsdirector-agent"]:
        p = pathlib.Path("/usr/bin") / prog
        assert p.is_file() and mode(p) == 0o755 and owner(p) == ("root", "root"), prog
    for name, sec in MAN.items():
        page = run("man", "-w", sec, name).stdout.strip()
        assert page == f"/usr/share/man/man{sec}/{name}.{sec}.gz", page
    r = run("tsdirector", "--check-config", str(INI), check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    u = pwd.getpwnam("tsdirector")
    assert u.pw_uid < 1000 and u.pw_dir == str(STATE) and u.pw_shell.endswith("nologin"), u
    assert owner(INI) == ("root", "root") and mode(INI) == 0o644
    assert owner(KEY) == ("root", "root") and mode(KEY) == 0o600
    assert len(bytes.fromhex(KEY.read_text().strip())) == 32
    assert owner(STATE) == ("tsdirector", "tsdirector") and mode(STATE) == 0o750
    assert owner(AGENT_DIR) == ("root", "root") and mode(AGENT_DIR) == 0o700


def agent_starts_with_packaged_key():
    """The agent as its unit runs it (the unit's key path), on a loopback port, answers."""
    shutil.copyfile(KEY, AGENT_DIR / "agent.key")
    os.chmod(AGENT_DIR / "agent.key", 0o600)
    unit = pathlib.Path("/lib/systemd/system/tsdirector-agent.service").read_text()
    assert "--key-file /etc/tsdirector-agent/agent.key" in unit
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = subprocess.Popen(["/usr/bin/tsdirector-agent", "--key-file", str(AGENT_DIR / "agent.key"),
                          "--listen", f"127.0.0.1:{port}"], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert p.poll() is None, p.stderr.read()
                assert time.monotonic() < deadline, "agent did not listen"
                time.sleep(0.05)
    finally:
        p.terminate()
        p.wait(timeout=10)


def repack(deb, new_version, out):
    """The same package with a higher version: a real upgrade (prerm/postinst with `upgrade`)."""
    tree = out / f"{deb.stem}-tree"
    run("dpkg-deb", "-R", str(deb), str(tree))
    control = tree / "DEBIAN" / "control"
    text = control.read_text()
    old = [l for l in text.splitlines() if l.startswith("Version: ")][0]
    control.write_text(text.replace(old, f"Version: {new_version}"))
    target = out / f"{deb.stem}-{new_version}.deb"
    run("dpkg-deb", "--root-owner-group", "-b", str(tree), str(target))
    return target


def test_install_upgrade_purge(debs, machine, tmp_path):
    run("dpkg", "-i", *map(str, debs.values()))
    assert all(installed(p) for p in PKGS)
    check_installed()
    agent_starts_with_packaged_key()
    key = KEY.read_bytes()

    # Local state: an edited conffile, the agent key, a saved sticky table.
    edit_config()
    (STATE / "sticky.state").write_text("kept\n")
    edited = INI.read_text()

    # Reinstall over itself: nothing asked (stdin is /dev/null), nothing lost.
    run("dpkg", "-i", *map(str, debs.values()))
    assert INI.read_text() == edited and KEY.read_bytes() == key
    assert (STATE / "sticky.state").read_text() == "kept\n"
    check_installed()

    # Upgrade to a higher version of the same contents.
    base = version("tsdirector")
    newer = [repack(d, base + "+test1", tmp_path) for d in debs.values()]
    run("dpkg", "-i", *map(str, newer))
    assert version("tsdirector") == version("tsdirector-agent") == base + "+test1"
    assert INI.read_text() == edited and KEY.read_bytes() == key
    assert (AGENT_DIR / "agent.key").read_bytes() == key
    assert (STATE / "sticky.state").read_text() == "kept\n"
    check_installed()

    # Remove keeps configuration and state; purge takes everything the packages made.
    run("dpkg", "--remove", *PKGS)
    assert not pathlib.Path("/usr/bin/tsdirector").exists()
    assert INI.read_text() == edited and KEY.exists() and AGENT_DIR.exists()
    run("dpkg", "--purge", *PKGS)
    for p in PKGS:
        assert not installed(p), p
    for p in [INI.parent, STATE, AGENT_DIR, pathlib.Path("/lib/systemd/system/tsdirector.service"),
              pathlib.Path("/usr/share/doc/tsdirector"), pathlib.Path("/usr/share/man/man5/tsdirector.ini.5.gz")]:
        assert not p.exists(), p
    # The system user stays (Debian practice; docs/packages.md) and owns nothing.
    assert user_exists("tsdirector")
