"""A real headless Chromium (Debian's `chromium`) driven over the DevTools protocol on a pipe
(--remote-debugging-pipe: NUL-separated JSON on fds 3 and 4), so the tests need no websocket
library, no npm package and no network. Page errors, console errors and every request a page
makes are recorded for the tests to assert on."""
import base64
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-default-apps", "--mute-audio",
         "--remote-debugging-pipe", "about:blank"]


class Browser:
    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="tsd-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def child_fds():
            # Move both ends out of the way first: either may already be fd 3 or 4.
            r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
            w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(r, 3)
            os.dup2(w, 4)

        self.log = open(os.path.join(self.profile, "chromium.log"), "wb")
        self.proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={self.profile}"], stdin=subprocess.DEVNULL,
            stdout=self.log, stderr=self.log, preexec_fn=child_fds, pass_fds=(3, 4))
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._next = 0
        self._lock = threading.Lock()
        self._cv = threading.Condition(self._lock)
        self._replies = {}
        self.events = []  # (sessionId, method, params)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        buf = b""
        while True:
            try:
                chunk = os.read(self._from_browser, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cv:
                    self._replies[None] = "browser closed the pipe"
                    self._cv.notify_all()
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                with self._cv:
                    if "id" in msg:
                        self._replies[msg["id"]] = msg
                    else:
                        self.events.append((msg.get("sessionId"), msg["method"],
                                            msg.get("params", {})))
                    self._cv.notify_all()

    def send(self, method, params=None, session=None, timeout=30):
        with self._cv:
            self._next += 1
            mid = self._next
        msg = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_browser, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        with self._cv:
            while mid not in self._replies:
                if None in self._replies:
                    raise RuntimeError(f"chromium went away during {method}")
                left = deadline - time.time()
                if left <= 0:
                    raise TimeoutError(f"no reply to {method}")
                self._cv.wait(left)
            reply = self._replies.pop(mid)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def open(self, url, width=1280, height=900, mobile=False, block=()):
        """A new tab on `url`; `block`: URL patterns the page may not load (Network domain)."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget",
                            {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", session=session)
        page.viewport(width, height, mobile)
        page.block(block)
        page.navigate(url)
        return page

    def close(self):
        try:
            self.send("Browser.close", timeout=10)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)


class Page:
    def __init__(self, browser, session):
        self.b, self.session = browser, session

    def send(self, method, params=None):
        return self.b.send(method, params, session=self.session)

    def viewport(self, width, height, mobile=False):
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 2 if mobile else 1,
                   "mobile": mobile})

    def block(self, patterns):
        self.send("Network.setBlockedURLs", {"urls": list(patterns)})

    def navigate(self, url, timeout=30):
        self.send("Page.navigate", {"url": url})
        self.wait("document.readyState === 'complete'", timeout, "page loaded")

    def eval(self, expr):
        r = self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True,
                                           "awaitPromise": True})
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expr}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait(self, expr, timeout=20, what=None):
        """Polls a JS expression until it is truthy; the deadline only bounds a hung test."""
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            last = self.eval(expr)
            if last:
                return last
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what or expr} (last: {last!r})")

    def screenshot(self, path, full_page=True):
        params = {"format": "png", "captureBeyondViewport": full_page}
        data = self.send("Page.captureScreenshot", params)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        return path

    def _events(self, method):
        with self.b._lock:
            return [p for s, m, p in self.b.events if s == self.session and m == method]

    def errors(self, allow=()):
        """Script exceptions, console errors and log errors (CSP violations land there), but
        those containing one of the `allow` texts."""
        out = [p["exceptionDetails"].get("text", "") + " " +
               str(p["exceptionDetails"].get("exception", {}).get("description", ""))
               for p in self._events("Runtime.exceptionThrown")]
        out += [" ".join(str(a.get("value", "")) for a in p.get("args", []))
                for p in self._events("Runtime.consoleAPICalled") if p.get("type") == "error"]
        out += [p["entry"].get("text", "") for p in self._events("Log.entryAdded")
                if p["entry"].get("level") == "error"]
        return [e for e in out if not any(a in e for a in allow)]

    def requests(self):
        return [p["request"]["url"] for p in self._events("Network.requestWillBeSent")]
