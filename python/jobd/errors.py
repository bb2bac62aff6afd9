"""One exception class per error code of the contract."""


class JobdError(Exception):
    """An error answer from jobd ({"ok":false,"error":{...}})."""
    code = "error"

    def __init__(self, message, code=None, response=None):
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.response = response


class BadRequest(JobdError): code = "bad_request"
class LineTooLong(JobdError): code = "line_too_long"
class UnknownOp(JobdError): code = "unknown_op"
class UnknownKind(JobdError): code = "unknown_kind"
class UnknownQueue(JobdError): code = "unknown_queue"
class NotFound(JobdError): code = "not_found"
class QueueFull(JobdError): code = "queue_full"
class NotCancellable(JobdError): code = "not_cancellable"
class Timeout(JobdError): code = "timeout"
class ShuttingDown(JobdError): code = "shutting_down"
class Forbidden(JobdError): code = "forbidden"
class NotRetryable(JobdError): code = "not_retryable"


class ConnectionLost(JobdError):
    """The connection closed or broke before the answer came."""
    code = "connection_lost"


_BY_CODE = {c.code: c for c in (
    BadRequest, LineTooLong, UnknownOp, UnknownKind, UnknownQueue, NotFound,
    QueueFull, NotCancellable, Timeout, ShuttingDown, Forbidden,
    NotRetryable)}


def error_for(response):
    """The exception for an error response; unknown codes give JobdError."""
    err = response.get("error") or {}
    code = err.get("code", "error")
    msg = err.get("message", code)
    cls = _BY_CODE.get(code, JobdError)
    return cls(msg, code=code, response=response)
