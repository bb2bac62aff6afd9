"""jobd.AsyncClient: the real jobd for the ops and pipelining; a tiny fake
server for what jobd cannot be made to do on demand (close mid-answer,
an answer past max_line, a watch stream)."""

import asyncio
import atexit
import json
import os
import shutil
import tempfile

import pytest

import jobd


def run(coro):
    return asyncio.run(coro)


def test_connect_env_and_async_with(sock):
    async def main():
        async with await jobd.AsyncClient.connect() as c:
            return await c.ping()
    assert run(main()).count(".") == 2


def test_submit_wait_every_op(sock):
    async def main():
        async with await jobd.AsyncClient.connect(sock) as c:
            jid = await c.submit("sleep", {"seconds": 0}, name="a")
            assert isinstance(jid, int)
            job = await c.wait(jid, timeout=30)
            assert job.state == "succeeded" and job.result == {"slept": 0}
            assert (await c.get(jid)).id == jid
            g = await c.submit_group([("sleep", {"seconds": 0})] * 3)
            jobs = await c.wait(group=g.id, timeout=30)
            assert [j.id for j in jobs] == g.ids
            long = await c.submit("sleep", {"seconds": 60})
            assert await c.cancel(long, reason="r") == "cancelled"
            with pytest.raises(jobd.NotCancellable):
                await c.cancel(long)
            with pytest.raises(jobd.NotFound):
                await c.get(10 ** 9)
            with pytest.raises(jobd.UnknownOp):
                await c.call({"op": "nope"})
            assert any(j.id == jid for j in await c.list(limit=1000))
            assert "default" in (await c.stats())["queues"]
    run(main())


def test_pipelined_gather_keeps_order(sock):
    n = 500

    async def main():
        async with await jobd.AsyncClient.connect(sock) as c:
            ids = await asyncio.gather(*(
                c.submit("sleep", {"seconds": 0}, name="p%d" % i)
                for i in range(n)))
            assert len(set(ids)) == n and ids == sorted(ids)
            # answers matched by FIFO: the job named p<i> has ids[i].
            for i in (0, n // 2, n - 1):
                assert (await c.get(ids[i])).name == "p%d" % i
            done = await asyncio.gather(*(c.wait(i, timeout=60)
                                          for i in ids))
            assert all(j.state == "succeeded" for j in done)
    run(main())


def test_errors_in_a_pipeline_hit_only_their_future(sock):
    async def main():
        async with await jobd.AsyncClient.connect(sock) as c:
            res = await asyncio.gather(
                c.ping(), c.get(10 ** 9), c.submit("nope", {}), c.ping(),
                return_exceptions=True)
            assert isinstance(res[0], str) and isinstance(res[3], str)
            assert isinstance(res[1], jobd.NotFound)
            assert isinstance(res[2], jobd.UnknownKind)
    run(main())


def test_tag_echo(sock):
    async def main():
        async with await jobd.AsyncClient.connect(sock) as c:
            r = await c.request({"op": "ping", "tag": {"k": [1, 2]}})
            assert r["tag"] == {"k": [1, 2]}
    run(main())


def test_wait_for_abandons_only_its_future(sock):
    # jobd serves one connection's requests in order, so a wait holds the
    # requests behind it: cancel from a second connection.
    async def main():
        async with await jobd.AsyncClient.connect(sock) as c, \
                await jobd.AsyncClient.connect(sock) as c2:
            jid = await c.submit("sleep", {"seconds": 60})
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(c.wait(jid), 0.1)
            assert await c2.cancel(jid) == "cancelled"
            # the late wait answer goes to the abandoned future, not to
            # the next request.
            assert isinstance(await c.ping(), str)
            assert (await c.get(jid)).state == "cancelled"
    run(main())


def test_server_max_line_closes(sock):
    async def main():
        c = await jobd.AsyncClient.connect(sock)
        try:
            with pytest.raises(jobd.LineTooLong):
                await c.submit("sleep", {"seconds": 0, "pad": "x" * 100000})
            with pytest.raises(jobd.ConnectionLost):
                await c.ping()
        finally:
            await c.close()
    run(main())


# --- a tiny fake server ------------------------------------------------

async def fake_server(handler):
    d = tempfile.mkdtemp(prefix="jpyf.", dir="/tmp")
    atexit.register(shutil.rmtree, d, True)
    path = os.path.join(d, "s")
    srv = await asyncio.start_unix_server(handler, path)
    return srv, path


def test_close_mid_answer_fails_every_pending():
    async def handler(reader, writer):
        await reader.readline()
        await reader.readline()
        writer.write(b'{"ok":true,"version":"1.2.3"}\n{"ok":tr')
        await writer.drain()
        writer.close()

    async def main():
        srv, path = await fake_server(handler)
        async with srv:
            async with await jobd.AsyncClient.connect(path) as c:
                res = await asyncio.gather(c.ping(), c.ping(), c.ping(),
                                           return_exceptions=True)
                assert res[0] == "1.2.3"
                assert isinstance(res[1], jobd.ConnectionLost)
                assert "mid-answer" in str(res[1])
                assert isinstance(res[2], jobd.ConnectionLost)
                with pytest.raises(jobd.ConnectionLost):
                    await c.ping()
    run(main())


def test_answer_past_max_line():
    async def handler(reader, writer):
        await reader.readline()
        writer.write(b'{"ok":true,"version":"' + b"9" * 5000 + b'"}\n')
        await writer.drain()
        await reader.read()

    async def main():
        srv, path = await fake_server(handler)
        async with srv:
            c = await jobd.AsyncClient.connect(path, max_line=1000)
            with pytest.raises(jobd.ConnectionLost, match="max_line"):
                await c.ping()
            await c.close()
    run(main())


def test_every_error_code_maps():
    codes = ["bad_request", "line_too_long", "unknown_op", "unknown_kind",
             "unknown_queue", "not_found", "queue_full", "not_cancellable",
             "timeout", "shutting_down", "forbidden", "not_retryable"]

    async def handler(reader, writer):
        for code in codes + ["something_new"]:
            await reader.readline()
            writer.write(json.dumps({"ok": False, "error": {
                "code": code, "message": "m"}}).encode() + b"\n")
        await writer.drain()
        await reader.read()

    async def main():
        srv, path = await fake_server(handler)
        async with srv:
            async with await jobd.AsyncClient.connect(path) as c:
                res = await asyncio.gather(
                    *(c.ping() for _ in range(len(codes) + 1)),
                    return_exceptions=True)
        for code, e in zip(codes + ["something_new"], res):
            assert isinstance(e, jobd.JobdError) and e.code == code
        assert type(res[-1]) is jobd.JobdError
        assert len({type(e) for e in res[:-1]}) == len(codes)
    run(main())


def test_watch_stream_fake():
    # jobd has no watch op yet: the client side per the contract, on a
    # fake server (test_watch_real below flips when jobd gets it).
    seen = []

    async def handler(reader, writer):
        seen.append(json.loads(await reader.readline()))
        writer.write(b'{"ok":true}\n'
                     b'{"event":"job","job":{"id":7,"state":"running"}}\n'
                     b'{"event":"dropped","count":3}\n')
        await writer.drain()
        writer.close()

    async def main():
        srv, path = await fake_server(handler)
        async with srv:
            async with await jobd.AsyncClient.connect(path) as c:
                return [e async for e in c.watch(queue="q")]

    events = run(main())
    assert seen == [{"op": "watch", "queue": "q"}]
    assert events[0].kind == "job" and events[0].job.id == 7
    assert events[0].job.state == "running"
    assert (events[1].kind, events[1].count) == ("dropped", 3)


def test_watch_real(sock):
    async def main():
        async with await jobd.AsyncClient.connect(sock) as c:
            agen = c.watch(queue="default")
            first = asyncio.ensure_future(agen.__anext__())
            await asyncio.sleep(0.2)
            jid = await c.submit("sleep", {"seconds": 0})
            ev = await asyncio.wait_for(first, 30)
            assert ev.kind == "job" and ev.job.id == jid
            await agen.aclose()
    run(main())


def test_sync_watch_fake():
    # The synchronous watch on the same fake stream, served from a thread.
    import socket
    import threading
    d = tempfile.mkdtemp(prefix="jpyf.", dir="/tmp")
    atexit.register(shutil.rmtree, d, True)
    path = os.path.join(d, "s")
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(2)

    def serve():
        for _ in range(2):          # the Client, then its watch connection
            conn, _ = srv.accept()
            f = conn.makefile("rb")
            req = json.loads(f.readline())
            if req["op"] == "watch":
                conn.sendall(b'{"ok":true}\n'
                             b'{"event":"job","job":{"id":3,"state":"queued"}}\n')
            conn.close()

    t = threading.Thread(target=serve)
    t.start()
    with jobd.Client(path) as c:
        c._sock.sendall(b'{"op":"ping"}\n')     # let the server move on
        events = list(c.watch(id=3))
    t.join()
    srv.close()
    assert [(e.kind, e.job.id) for e in events] == [("job", 3)]
