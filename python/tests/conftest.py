"""One real jobd per test session, on a socket in a short mkdtemp dir.

JOBD_BIN names the jobd to run (ctest sets it to the built one); the
package under test is python/jobd of this tree.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

SLOW = float(os.environ.get("JOBD_TEST_SLOW", "1") or 1)
MAX_LINE = 65536

CONF = """[daemon]
socket = {dir}/jobd.sock
database = {dir}/jobd.db
max_line = 64K

[queue.default]
workers = 4
capacity = 1000

[queue.one]
workers = 1
capacity = 1
"""


class Jobd:
    def __init__(self, binary):
        self.dir = tempfile.mkdtemp(prefix="jpy.", dir="/tmp")
        self.sock = os.path.join(self.dir, "jobd.sock")
        self.conf = os.path.join(self.dir, "jobd.conf")
        self.log = os.path.join(self.dir, "jobd.log")
        with open(self.conf, "w") as f:
            f.write(CONF.format(dir=self.dir))
        self.proc = subprocess.Popen([binary, "-c", self.conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(self.log, "wb"))
        deadline = time.monotonic() + 20 * SLOW
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("jobd exited %d:\n%s"
                                   % (self.proc.returncode, self.logtext()))
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(self.sock)
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("jobd not ready:\n" + self.logtext())
                time.sleep(0.02)

    def logtext(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30 * SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        shutil.rmtree(self.dir, ignore_errors=True)
        return rc


@pytest.fixture(scope="session")
def jobd():
    binary = os.environ.get("JOBD_BIN")
    if not binary:
        pytest.fail("JOBD_BIN is not set (the jobd to test; ctest sets it)")
    d = Jobd(binary)
    yield d
    rc = d.stop()
    assert rc == 0, "jobd exited %d on SIGTERM" % rc


@pytest.fixture
def sock(jobd, monkeypatch):
    monkeypatch.setenv("JOBD_SOCKET", jobd.sock)
    return jobd.sock
