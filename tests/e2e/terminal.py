"""Interactive ssh clients for the end-to-end tests: `ssh -tt` from a client namespace on a
pseudo-terminal, read by a thread, with escape sequences stripped for matching."""
import os
import re
import threading
import time

ANSI = re.compile(rb"\x1b(\[[0-9;?>=]*[ -/]*[@-~]|[()][0-9A-Za-z]|[=>78M]|\][^\x07]*\x07|P[^\x1b]*\x1b\\)")


class Terminal:
    """An interactive `ssh -tt` from a client namespace, driven through a pseudo-terminal."""

    def __init__(self, lab, client, user, src=None, remote=None):
        import fcntl
        import pty  # noqa: F401  (documents the dependency: POSIX ptys)
        import struct
        import termios
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        # tmux discards terminal output not yet sent when it starts (tcflush), so the line
        # naming the node waits for our go (read) before tmux takes over the terminal.
        remote = remote or ('echo "TSDNODE=$TSD_NODE" "TSDCLIENT=${SSH_CLIENT%% *}"; '
                            "read go; exec tmux new -A -s desk")
        argv = lab.in_ns(client, *ssh_args(lab, user, src, tty=True), remote)
        env = dict(os.environ, TERM="xterm", LANG="C.UTF-8")
        self.proc = lab.popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                              start_new_session=True)
        os.close(slave)
        self.raw = bytearray()
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        fd = self.master  # closed by kill() only after this thread has ended
        while True:
            try:
                b = os.read(fd, 65536)
            except OSError:
                return
            if not b:
                return
            with self.lock:
                self.raw += b

    def text(self):
        with self.lock:
            data = bytes(self.raw)
        return ANSI.sub(b"", data).replace(b"\r", b"").decode(errors="replace")

    def expect(self, pattern, timeout=20):
        rx = re.compile(pattern)
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = rx.search(self.text())
            if m:
                return m
            if self.proc.poll() is not None:
                time.sleep(0.2)
                m = rx.search(self.text())
                if m:
                    return m
                raise AssertionError(f"ssh exited ({self.proc.returncode}) before {pattern!r}:"
                                     f"\n{self.text()[-2000:]}")
            time.sleep(0.05)
        with self.lock:
            head = bytes(self.raw[:800])
        raise AssertionError(f"no {pattern!r} within {timeout}s; output began {head!r}; "
                             f"ends:\n{self.text()[-2000:]}")

    def type(self, line):
        os.write(self.master, line.encode() + b"\r")

    def kill(self):
        """The client dies (kill -9): no orderly goodbye to the server."""
        self.proc.kill()
        self.proc.wait(10)
        # ssh held the only other end: the reader sees EIO and ends, then the fd can go.
        self.reader.join(10)
        if self.master is not None and not self.reader.is_alive():
            os.close(self.master)
            self.master = None


def ssh_args(lab, user, src=None, tty=False):
    a = ["ssh", "-i", lab.client_key, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
         "-o", f"UserKnownHostsFile={lab.known_hosts}", "-o", "LogLevel=ERROR",
         "-o", "ConnectTimeout=10"]
    if tty:
        a.append("-tt")
    if src:
        a += ["-b", src]
    return [str(x) for x in a] + [f"{user}@{lab.vip}"]
