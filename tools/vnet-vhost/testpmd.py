"""Child processes for the vhost-user world's scripts: dpdk-testpmd as a
vhost-user back end (net_vhost ports) or as DPDK's own virtio-user driver,
and vnet-vhost, each with its output collected as it comes.

Used by bench/vhost_race.py and tests/vhost_dpdk/vhost_dpdk_test.py.
Every Proc is started in a session of its own and stop() reaps the whole
group (quit command first, then SIGTERM, then SIGKILL), so nothing outlives
the script; live() lists what is running for a signal handler to stop.
"""
import os
import re
import signal
import subprocess
import threading
import time

TESTPMD = "dpdk-testpmd"
_LIVE = []


def live():
    return list(_LIVE)


class Proc:
    """A child process with its output collected on a thread."""

    def __init__(self, argv, name, stdin=False):
        self.name = name
        self.argv = argv
        self.out = []
        self.lock = threading.Lock()
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  bufsize=0, start_new_session=True)
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()
        _LIVE.append(self)

    def _read(self):
        # Chunks, not lines: testpmd's prompt ends without a newline.
        fd = self.p.stdout.fileno()
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            with self.lock:
                self.out.append(chunk.decode(errors="replace"))

    def text(self):
        with self.lock:
            return "".join(self.out)

    def send(self, line):
        if self.p.poll() is None:
            try:
                self.p.stdin.write((line + "\n").encode())
            except BrokenPipeError:
                pass

    def wait_for(self, pattern, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if re.search(pattern, self.text()):
                return True
            if self.p.poll() is not None:
                time.sleep(0.1)
                return bool(re.search(pattern, self.text()))
            time.sleep(0.05)
        return False

    def wait(self, timeout):
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, quit_cmd=None, timeout=5):
        if quit_cmd and self.p.poll() is None:
            self.send(quit_cmd)
            self.wait(timeout)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if self.p.poll() is not None:
                break
            try:
                os.killpg(self.p.pid, sig)
            except ProcessLookupError:
                break
            self.wait(timeout)
        self.t.join(timeout=2)
        if self in _LIVE:
            _LIVE.remove(self)


def testpmd(prefix, vdevs, lcores, extra=()):
    """dpdk-testpmd in interactive mode, unbuffered output, no hugepages."""
    argv = ["stdbuf", "-o0", TESTPMD, "--no-huge", "-m", "1024", "--no-pci",
            f"--file-prefix={prefix}", f"--lcores={lcores}",
            "--log-level=lib.vhost.config:info"]
    argv += [f"--vdev={v}" for v in vdevs]
    argv += ["--", "-i", "--nb-cores=1", "--txd=1024", "--rxd=1024"] + list(extra)
    p = Proc(argv, "testpmd", stdin=True)
    if not p.wait_for(r"testpmd> ", 60):
        p.stop()
        raise RuntimeError("dpdk-testpmd did not start:\n" + p.text()[-3000:])
    return p


def stop_all():
    for p in reversed(live()):
        p.stop("quit" if p.name == "testpmd" else None)
