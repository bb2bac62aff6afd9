"""jobd.Client against the real jobd: every op and every error code."""

import pytest

import jobd


def test_ping_default_socket_from_env(sock):
    with jobd.Client() as c:           # path=None: JOBD_SOCKET
        v = c.ping()
    assert isinstance(v, str) and v.count(".") == 2


def test_submit_wait_get(sock):
    with jobd.Client(sock) as c:
        jid = c.submit("sleep", {"seconds": 0}, name="nap")
        assert isinstance(jid, int)
        job = c.wait(jid, timeout=30)
        assert isinstance(job, jobd.Job)
        assert job.id == jid and job.state == "succeeded" and job.ok
        assert job.result == {"slept": 0}
        assert job.name == "nap" and job.kind == "sleep"
        assert job.queue == "default" and job.attempts >= 1
        assert job.created_at <= job.started_at <= job.finished_at
        got = c.get(jid)
        assert got.state == "succeeded" and got.result == job.result


def test_failed_job(sock):
    with jobd.Client(sock) as c:
        jid = c.submit("sleep", {"seconds": 0, "fail": "boom"})
        job = c.wait(jid, timeout=30)
    assert job.state == "failed" and "boom" in job.error


def test_group_all_and_wait_group(sock):
    with jobd.Client(sock) as c:
        g = c.submit_group([("sleep", {"seconds": 0}),
                            {"kind": "sleep", "args": {"seconds": 0}}])
        assert isinstance(g, jobd.Group) and len(g.ids) == 2
        jobs = c.wait(group=g.id, timeout=30)
    assert [j.id for j in jobs] == g.ids
    assert all(j.state == "succeeded" and j.group == g.id for j in jobs)


def test_cancel_and_not_cancellable(sock):
    with jobd.Client(sock) as c:
        jid = c.submit("sleep", {"seconds": 60})
        assert c.cancel(jid, reason="test") == "cancelled"
        job = c.wait(jid, timeout=30)
        assert job.state == "cancelled" and job.cancel_reason == "test"
        with pytest.raises(jobd.NotCancellable):
            c.cancel(jid)


def test_list_and_stats(sock):
    with jobd.Client(sock) as c:
        jid = c.submit("sleep", {"seconds": 0}, queue="default")
        c.wait(jid, timeout=30)
        jobs = c.list(queue="default", limit=5)
        assert jobs and all(isinstance(j, jobd.Job) for j in jobs)
        assert len(jobs) <= 5 and jobs[0].id >= jid    # newest first
        st = c.stats()
    assert {"default", "one"} <= set(st["queues"])
    assert st["queues"]["one"]["capacity"] == 1


@pytest.mark.parametrize("req,exc", [
    ({"op": "nope"}, jobd.UnknownOp),
    ({"op": "submit", "kind": "nope", "args": {}}, jobd.UnknownKind),
    ({"op": "submit", "kind": "sleep", "args": {"seconds": 0},
      "queue": "nope"}, jobd.UnknownQueue),
    ({"op": "get", "id": 999999999}, jobd.NotFound),
    ({"op": "get"}, jobd.BadRequest),
])
def test_error_codes(sock, req, exc):
    with jobd.Client(sock) as c:
        with pytest.raises(exc) as ei:
            c.call(req)
        assert ei.value.code == exc.code and ei.value.message
        assert c.ping()               # the connection stays usable


def test_timeout(sock):
    with jobd.Client(sock) as c:
        jid = c.submit("sleep", {"seconds": 60})
        with pytest.raises(jobd.Timeout):
            c.wait(jid, timeout=0.05)
        c.cancel(jid)


def test_queue_full_nowait(sock):
    with jobd.Client(sock) as c:
        running = c.submit("sleep", {"seconds": 60}, queue="one")
        ids = [running]
        with pytest.raises(jobd.QueueFull):
            # one worker, capacity one: the third cannot fit.
            for _ in range(3):
                ids.append(c.submit("sleep", {"seconds": 60}, queue="one",
                                    nowait=True))
        for i in ids:
            c.cancel(i)
        for i in ids:
            assert c.wait(i, timeout=30).state == "cancelled"


def test_bad_json_is_bad_request(sock):
    with jobd.Client(sock) as c:
        c._sock.sendall(b"{not json\n")
        with pytest.raises(jobd.BadRequest):
            wire_check(c._readline(c._file))
        assert c.ping()


def wire_check(resp):
    return jobd.wire.check(resp)


def test_line_past_max_line_refused_locally(sock):
    with jobd.Client(sock, max_line=1000) as c:
        with pytest.raises(jobd.LineTooLong):
            c.submit("sleep", {"seconds": 0, "pad": "x" * 2000})
        assert c.ping()               # nothing was sent


def test_line_past_server_max_line(sock):
    # Our bound is above the server's (64K): jobd answers line_too_long
    # and closes the connection.
    with jobd.Client(sock, max_line=1 << 20) as c:
        with pytest.raises(jobd.LineTooLong):
            c.submit("sleep", {"seconds": 0, "pad": "x" * 100000})
        with pytest.raises((jobd.ConnectionLost, OSError)):
            c.ping()


def test_exact_target_required(sock):
    with jobd.Client(sock) as c:
        with pytest.raises(ValueError):
            c.wait()
        with pytest.raises(ValueError):
            c.cancel(1, group=2)
