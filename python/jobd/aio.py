"""AsyncClient: asyncio, every request pipelined on one connection.

jobd answers in request order, so a FIFO of futures is all the matching
needed: the reader task pops the oldest future for each line.  A lost
connection fails every pending future with ConnectionLost.  Backpressure
is the socket's: a write awaits drain(), and jobd stops reading a
connection whose submit waits for queue room.
"""

import asyncio
import collections

from . import wire
from .errors import ConnectionLost
from .jobs import Job, Event


class AsyncClient:
    def __init__(self, reader, writer, max_line=wire.MAX_LINE):
        self._reader = reader
        self._writer = writer
        self._max_line = max_line
        self._pending = collections.deque()
        self._lost = None
        self._task = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def connect(cls, path=None, max_line=wire.MAX_LINE):
        # limit: a line longer than this is an error, not unbounded memory.
        reader, writer = await asyncio.open_unix_connection(
            wire.socket_path(path), limit=max_line + 1)
        return cls(reader, writer, max_line)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()

    async def close(self):
        if not self._writer.is_closing():
            self._writer.close()
        try:
            await self._writer.wait_closed()
        except OSError:
            pass
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        self._fail(ConnectionLost("client closed"))

    def _fail(self, exc):
        if self._lost is None:
            self._lost = exc
        while self._pending:
            fut = self._pending.popleft()
            if not fut.done():
                fut.set_exception(self._lost)

    async def _read(self):
        try:
            while True:
                try:
                    line = await self._reader.readline()
                except ValueError:
                    raise ConnectionLost("answer past max_line %d"
                                         % self._max_line)
                if not line.endswith(b"\n"):
                    raise ConnectionLost("jobd closed the connection"
                                         + (" mid-answer" if line else ""))
                resp = wire.decode(line)
                if not self._pending:
                    raise ConnectionLost("answer with no request: %r"
                                         % line[:80])
                fut = self._pending.popleft()
                if not fut.done():
                    fut.set_result(resp)
        except (OSError, ConnectionLost, ValueError) as e:
            err = e if isinstance(e, ConnectionLost) else ConnectionLost(
                "connection lost: %s" % e)
            self._fail(err)
            self._writer.close()

    async def request(self, req):
        """Send one request object; the answer object (ok or not)."""
        if self._lost is not None:
            raise self._lost
        data = wire.encode(req, self._max_line)
        fut = asyncio.get_running_loop().create_future()
        self._pending.append(fut)
        self._writer.write(data)
        try:
            await self._writer.drain()
        except OSError as e:
            self._fail(ConnectionLost("connection lost: %s" % e))
        return await fut

    async def call(self, req):
        return wire.check(await self.request(req))

    async def ping(self):
        return (await self.call({"op": "ping"}))["version"]

    async def submit(self, kind, args=None, **fields):
        """Submit one job; its id.  Extra fields go as they are."""
        return (await self.call(wire.submit_req(kind, args, **fields)))["id"]

    async def submit_group(self, jobs, mode="all"):
        return wire.read_group(await self.call(wire.group_req(jobs, mode)))

    async def get(self, id):
        return Job.from_json((await self.call({"op": "get", "id": id}))["job"])

    async def wait(self, id=None, timeout=None, group=None):
        """A Job once it ended (for a group, the list of Jobs)."""
        return wire.read_wait(await self.call(
            wire.target_req("wait", id, group, timeout=timeout)))

    async def cancel(self, id=None, reason=None, group=None):
        return (await self.call(wire.target_req(
            "cancel", id, group, reason=reason)))["state"]

    async def list(self, state=None, queue=None, limit=None, **filters):
        return wire.read_jobs(await self.call({"op": "list", **wire._drop_none(
            dict(state=state, queue=queue, limit=limit, **filters))}))

    async def stats(self):
        return await self.call({"op": "stats"})

    async def pause(self, queue):
        return (await self.call({"op": "pause", "queue": queue}))["paused"]

    async def resume(self, queue):
        return (await self.call({"op": "resume", "queue": queue}))["paused"]

    async def retry(self, id):
        return await self.call({"op": "retry", "id": id})

    async def prune(self, before, states=None):
        req = {"op": "prune", "before": before}
        if states is not None:
            req["states"] = list(states)
        return (await self.call(req))["deleted"]

    async def schedules(self):
        return (await self.call({"op": "schedules"}))["schedules"]

    async def watch(self, queue=None, id=None, group=None, path=None):
        """Yield Events.  Uses a connection of its own: after the ok answer
        the connection carries only events."""
        path = path if path is not None else self._path()
        reader, writer = await asyncio.open_unix_connection(
            wire.socket_path(path), limit=self._max_line + 1)
        try:
            req = {"op": "watch", **wire._drop_none(
                dict(queue=queue, id=id, group=group))}
            writer.write(wire.encode(req, self._max_line))
            await writer.drain()
            first = await reader.readline()
            if not first.endswith(b"\n"):
                raise ConnectionLost("jobd closed the watch connection")
            wire.check(wire.decode(first))
            while True:
                line = await reader.readline()
                if not line.endswith(b"\n"):
                    return
                yield Event.from_json(wire.decode(line))
        finally:
            writer.close()

    def _path(self):
        sock = self._writer.get_extra_info("peername")
        return sock if isinstance(sock, str) and sock else None
