"""Client: the synchronous client, one request at a time."""

import socket

from . import wire
from .errors import ConnectionLost
from .jobs import Job, Event


class Client:
    def __init__(self, path=None, timeout=None, max_line=wire.MAX_LINE):
        self.path = wire.socket_path(path)
        self._max_line = max_line
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._sock.settimeout(timeout)
            self._sock.connect(self.path)
        except OSError:
            self._sock.close()
            raise
        self._file = self._sock.makefile("rb")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._file.close()
        self._sock.close()

    def _readline(self, f):
        line = f.readline(self._max_line + 1)
        if len(line) > self._max_line:
            raise ConnectionLost("answer past max_line %d" % self._max_line)
        if not line.endswith(b"\n"):
            raise ConnectionLost("jobd closed the connection"
                                 + (" mid-answer" if line else ""))
        return wire.decode(line)

    def request(self, req):
        try:
            self._sock.sendall(wire.encode(req, self._max_line))
        except OSError as e:
            raise ConnectionLost("connection lost: %s" % e) from e
        return self._readline(self._file)

    def call(self, req):
        return wire.check(self.request(req))

    def ping(self):
        return self.call({"op": "ping"})["version"]

    def submit(self, kind, args=None, **fields):
        return self.call(wire.submit_req(kind, args, **fields))["id"]

    def submit_group(self, jobs, mode="all"):
        return wire.read_group(self.call(wire.group_req(jobs, mode)))

    def get(self, id):
        return Job.from_json(self.call({"op": "get", "id": id})["job"])

    def wait(self, id=None, timeout=None, group=None):
        return wire.read_wait(self.call(
            wire.target_req("wait", id, group, timeout=timeout)))

    def cancel(self, id=None, reason=None, group=None):
        return self.call(wire.target_req("cancel", id, group,
                                         reason=reason))["state"]

    def list(self, state=None, queue=None, limit=None, **filters):
        return wire.read_jobs(self.call({"op": "list", **wire._drop_none(
            dict(state=state, queue=queue, limit=limit, **filters))}))

    def stats(self):
        return self.call({"op": "stats"})

    def pause(self, queue):
        return self.call({"op": "pause", "queue": queue})["paused"]

    def resume(self, queue):
        return self.call({"op": "resume", "queue": queue})["paused"]

    def retry(self, id):
        return self.call({"op": "retry", "id": id})

    def prune(self, before, states=None):
        req = {"op": "prune", "before": before}
        if states is not None:
            req["states"] = list(states)
        return self.call(req)["deleted"]

    def schedules(self):
        return self.call({"op": "schedules"})["schedules"]

    def watch(self, queue=None, id=None, group=None):
        """Yield Events on a connection of its own."""
        with Client(self.path, max_line=self._max_line) as w:
            w.call({"op": "watch", **wire._drop_none(
                dict(queue=queue, id=id, group=group))})
            while True:
                try:
                    yield Event.from_json(w._readline(w._file))
                except ConnectionLost:
                    return
