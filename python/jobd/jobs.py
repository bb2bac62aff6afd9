"""Typed views of the contract's JSON objects."""

from dataclasses import dataclass, field, fields
from typing import Any, Optional

ENDED_STATES = frozenset({"succeeded", "failed", "timed_out", "cancelled"})


@dataclass(frozen=True)
class Job:
    """A {JOB} object.  Fields the contract does not name yet land in extra."""
    id: int
    queue: str = "default"
    kind: str = ""
    state: str = ""
    args: Any = None
    name: Optional[str] = None
    attempts: int = 0
    timeout: Optional[float] = None
    created_at: Optional[float] = None
    started_at: Optional[float] = None
    finished_at: Optional[float] = None
    result: Any = None
    error: Optional[str] = None
    cancel_reason: Optional[str] = None
    group: Optional[int] = None
    max_attempts: Optional[int] = None
    submitted_by: Optional[dict] = None
    # The lifecycle's fields (CONTRACT.md, "Job lifecycle").
    run_at: Optional[float] = None
    priority: Optional[int] = None
    retries: Optional[int] = None
    retried: Optional[int] = None
    retry_delay: Optional[float] = None
    retry_max_delay: Optional[float] = None
    retry_backoff: Optional[str] = None
    after: Optional[list] = None
    unique_key: Optional[str] = None
    schedule: Optional[str] = None
    slot: Optional[float] = None
    history: Optional[list] = None
    node: Optional[str] = None          # the PostgreSQL store's daemon
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_json(cls, obj):
        names = {f.name for f in fields(cls)} - {"extra"}
        known = {k: v for k, v in obj.items() if k in names}
        extra = {k: v for k, v in obj.items() if k not in names}
        return cls(**known, extra=extra)

    @property
    def ended(self):
        return self.state in ENDED_STATES

    @property
    def ok(self):
        return self.state == "succeeded"


@dataclass(frozen=True)
class Group:
    """The answer to submit_group: the group id and its job ids in order."""
    id: int
    ids: list


@dataclass(frozen=True)
class Event:
    """One watch line: kind "job" (with job), "dropped" (with count), or
    one about no job's state ("queue", "pruned", "duplicate"; PROTOCOL.md):
    data is the whole line's object, whatever the kind."""
    kind: str
    job: Optional[Job] = None
    count: int = 0
    data: dict = field(default_factory=dict)

    @classmethod
    def from_json(cls, obj):
        if obj.get("event") == "dropped":
            return cls("dropped", count=int(obj.get("count", 0)), data=obj)
        job = obj.get("job")
        return cls(obj.get("event", "job"),
                   job=Job.from_json(job) if job is not None else None,
                   data=obj)
