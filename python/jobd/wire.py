"""What the sync and async clients share: requests, answers, the socket."""

import json
import os

from .errors import error_for, LineTooLong
from .jobs import Job, Group

DEFAULT_SOCKET = "/run/jobd/jobd.sock"
# jobd's default max_line; a request longer than this is refused here, not
# sent (the server would answer line_too_long and close the connection).
MAX_LINE = 1 << 20


def socket_path(path=None):
    """path, else $JOBD_SOCKET, else the default socket."""
    return path or os.environ.get("JOBD_SOCKET") or DEFAULT_SOCKET


def encode(req, max_line=MAX_LINE):
    line = json.dumps(req, separators=(",", ":"), ensure_ascii=False)
    data = line.encode() + b"\n"
    if len(data) > max_line:
        raise LineTooLong("request of %d bytes is past max_line %d"
                          % (len(data), max_line))
    return data


def decode(line):
    resp = json.loads(line)
    if not isinstance(resp, dict):
        raise ValueError("jobd answered a non-object: %r" % (line[:80],))
    return resp


def check(resp):
    if not resp.get("ok"):
        raise error_for(resp)
    return resp


def _drop_none(d):
    return {k: v for k, v in d.items() if v is not None}


# Each op: the request, and how to read its answer.  Both clients use them.
def submit_req(kind, args=None, **fields):
    return {"op": "submit", "kind": kind,
            "args": {} if args is None else args, **_drop_none(fields)}


def group_req(jobs, mode="all"):
    out = []
    for j in jobs:
        if isinstance(j, tuple):
            kind, args, *rest = j
            j = {"kind": kind, "args": args, **(rest[0] if rest else {})}
        out.append(j)
    return {"op": "submit_group", "mode": mode, "jobs": out}


def target_req(op, id=None, group=None, **fields):
    if (id is None) == (group is None):
        raise ValueError("%s: give exactly one of id and group" % op)
    req = {"op": op, **_drop_none(fields)}
    if id is not None:
        req["id"] = id
    else:
        req["group"] = group
    return req


def read_group(resp):
    return Group(resp["group"], list(resp["ids"]))


def read_jobs(resp):
    return [Job.from_json(j) for j in resp.get("jobs", [])]


def read_wait(resp):
    if "job" in resp:
        return Job.from_json(resp["job"])
    return read_jobs(resp)
