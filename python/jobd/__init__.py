"""jobd: a client for the jobd job daemon (docs/PYTHON.md).

Stdlib only.  Client is synchronous; AsyncClient is asyncio and pipelines
every request on one connection (responses come in request order).
"""

from .errors import (JobdError, BadRequest, LineTooLong, UnknownOp,
                     UnknownKind, UnknownQueue, NotFound, QueueFull,
                     NotCancellable, Timeout, ShuttingDown, Forbidden,
                     NotRetryable, ConnectionLost, error_for)
from .jobs import Job, Group, Event, ENDED_STATES
from .wire import socket_path, DEFAULT_SOCKET, MAX_LINE
from .client import Client
from .aio import AsyncClient

__all__ = [
    "Client", "AsyncClient", "Job", "Group", "Event", "ENDED_STATES",
    "JobdError", "BadRequest", "LineTooLong", "UnknownOp", "UnknownKind",
    "UnknownQueue", "NotFound", "QueueFull", "NotCancellable", "Timeout",
    "ShuttingDown", "Forbidden", "NotRetryable", "ConnectionLost",
    "error_for", "socket_path", "DEFAULT_SOCKET", "MAX_LINE",
]
