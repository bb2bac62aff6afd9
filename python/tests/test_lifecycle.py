"""The lifecycle's ops (pause, resume, retry, prune, schedules), the Job's
contract fields and the watch stream, sync and asyncio, against the real
jobd (conftest.py)."""

import asyncio
import threading
import time

import pytest

import jobd


def run(coro):
    return asyncio.run(coro)


def test_job_has_every_contract_field(sock):
    with jobd.Client(sock) as c:
        jid = c.submit("sleep", {"seconds": 0}, priority=3, retries=2,
                       unique_key="py-fields-%f" % time.time())
        job = c.wait(jid, timeout=30)
    assert job.state == "succeeded"
    assert (job.priority, job.retries, job.max_attempts) == (3, 2, 3)
    assert job.unique_key.startswith("py-fields-")
    assert job.schedule is None and job.slot is None and job.after is None
    assert job.submitted_by is not None
    # Every key jobd sent is a field; extra only holds what is newer.
    assert job.extra == {}, job.extra


def test_sync_pause_resume_retry_prune_schedules(sock):
    with jobd.Client(sock) as c:
        assert c.pause("one") is True
        jid = c.submit("sleep", {"seconds": 0}, queue="one")
        time.sleep(0.2)
        assert c.get(jid).state == "queued"          # paused: not started
        assert c.resume("one") is False
        assert c.wait(jid, timeout=30).state == "succeeded"
        with pytest.raises(jobd.NotRetryable):
            c.retry(jid)
        bad = c.submit("sleep", {"seconds": 0, "fail": "boom"})
        assert c.wait(bad, timeout=30).state == "failed"
        c.retry(bad)
        again = c.wait(bad, timeout=30)
        assert again.state == "failed" and again.attempts == 2
        assert c.prune(time.time() + 60, states=["failed"]) >= 1
        with pytest.raises(jobd.NotFound):
            c.get(bad)
        assert c.schedules() == []


def test_async_lifecycle_ops(sock):
    async def main():
        async with await jobd.AsyncClient.connect(sock) as c:
            assert await c.pause("one") is True
            assert await c.resume("one") is False
            bad = await c.submit("sleep", {"seconds": 0, "fail": "x"})
            assert (await c.wait(bad, timeout=30)).state == "failed"
            await c.retry(bad)
            assert (await c.wait(bad, timeout=30)).attempts == 2
            assert await c.prune(time.time() + 60, states=["failed"]) >= 1
            assert await c.schedules() == []
    run(main())


def test_async_watch_sees_lifecycle_events(sock):
    async def main():
        async with await jobd.AsyncClient.connect(sock) as c:
            agen = c.watch(queue="one")
            first = asyncio.ensure_future(agen.__anext__())
            await asyncio.sleep(0.2)
            await c.pause("one")
            await c.resume("one")
            jid = await c.submit("sleep", {"seconds": 0}, queue="one",
                                 delay=0.2)
            evs = [await asyncio.wait_for(first, 30)]
            while len(evs) < 6:
                evs.append(await asyncio.wait_for(agen.__anext__(), 30))
            await agen.aclose()
            return jid, evs

    jid, evs = run(main())
    assert [(e.kind, e.data.get("paused")) for e in evs[:2]] == \
        [("queue", True), ("queue", False)]
    assert [(e.job.id, e.job.state) for e in evs[2:]] == \
        [(jid, s) for s in ("scheduled", "queued", "running", "succeeded")]
    assert evs[2].job.run_at is not None


def test_sync_watch_real(sock):
    got = []
    with jobd.Client(sock) as c:
        stream = c.watch(queue="one")

        def read():
            for e in stream:
                got.append(e)
                if e.kind == "job" and e.job.ended:
                    return

        t = threading.Thread(target=read, daemon=True)
        t.start()
        time.sleep(0.3)             # the watch is on before the submit
        jid = c.submit("sleep", {"seconds": 0}, queue="one")
        t.join(30)
    assert not t.is_alive()
    assert [(e.job.id, e.job.state) for e in got] == \
        [(jid, s) for s in ("queued", "running", "succeeded")]
