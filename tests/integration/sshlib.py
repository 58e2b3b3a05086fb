"""Real OpenSSH servers on loopback for the tests: one shared host key, one client key."""
import os
import pathlib
import subprocess

import pytest

from tsdlib import free_port, wait_port


class SshLab:
    def __init__(self, tmp):
        self.dir = pathlib.Path(tmp) / "ssh"
        self.dir.mkdir(exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.host_key = self.dir / "host_ed25519"
        self.client_key = self.dir / "id_ed25519"
        for key in (self.host_key, self.client_key):
            if not key.exists():
                subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                               check=True)
        (self.dir / "authorized_keys").write_text(
            (self.dir / "id_ed25519.pub").read_text())
        os.chmod(self.dir / "authorized_keys", 0o644)
        os.makedirs("/run/sshd", exist_ok=True)
        self.procs = []

    def start_sshd(self, host="127.0.0.1", port=None):
        port = port or free_port(host)
        cfg = self.dir / f"sshd_{port}.conf"
        cfg.write_text(f"""ListenAddress {host}:{port}
HostKey {self.host_key}
PidFile none
AuthorizedKeysFile {self.dir}/authorized_keys
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
LogLevel ERROR
""")
        p = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(cfg)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(p)
        wait_port(port, host=host, proc=p)
        return p, port

    def ssh_args(self, port, host="127.0.0.1", user="root"):
        return ["ssh", "-i", str(self.client_key), "-p", str(port), "-o", "BatchMode=yes",
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10", f"{user}@{host}"]

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                p.wait(10)


# The fixture of tests that start sshd nodes (import it: `from sshlib import lab`).
@pytest.fixture
def lab(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("sshd on loopback needs root here")
    lab = SshLab(tmp_path)
    yield lab
    lab.close()
