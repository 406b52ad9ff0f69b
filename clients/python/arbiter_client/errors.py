"""The exceptions of the client: Arbiter's error body (``{error: {code, message, details?}}``) as Python exceptions.

Every failed call raises an :class:`ArbiterError` carrying the HTTP ``status``, Arbiter's ``code`` and ``message``
and its ``details``; three kinds have a class of their own: :class:`NotReadyError` (408 ``not_ready`` of
``get_workers``), :class:`RemoteEngineError` (502 ``engine_error``: the engine raised) and
:class:`ArbiterConnectionError` (no HTTP answer at all).
"""
from typing import Any, Dict, List, Optional, Tuple


class ArbiterError(Exception):
    """A failed call: Arbiter's HTTP ``status``, ``code`` (``not_found``, ``conflict``, ``invalid_input``…),
    ``message`` and ``details`` (e.g. each bad field of a 400), as in shared/error.ts."""

    def __init__(self, status: Optional[int], code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        #: the HTTP status; None when no answer came (ArbiterConnectionError)
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    def __str__(self) -> str:
        head = self.code if self.status is None else "{} {}".format(self.status, self.code)
        return "[{}] {}".format(head, self.message)

    def __reduce__(self) -> Tuple[Any, ...]:
        # picklable (multiprocessing, logging handlers): rebuilt from the same fields
        return (self.__class__, (self.status, self.code, self.message, self.details))


class NotReadyError(ArbiterError):
    """``get_workers`` timed out (408 ``not_ready``), or a replica ended and the group can never be ready.

    ``details`` lists each worker that is not running: ``{"id", "state", "why"}`` (why in words: queued behind
    whom, starting, exited with code N…).
    """

    details: List[Dict[str, Any]]

    def __init__(self, status: Optional[int], code: str, message: str, details: Any = None) -> None:
        super().__init__(status, code, message, details if isinstance(details, list) else [])

    @property
    def ended(self) -> bool:
        """Whether a replica has ended (exited, failed, stopped, preempted): waiting longer cannot help."""
        return any(isinstance(d, dict) and d.get("state") in ENDED_STATES for d in self.details)


class RemoteEngineError(ArbiterError):
    """An exception the engine raised in the worker (502 ``engine_error``): its class name ``remote_type``
    (``ValueError``…) and traceback ``remote_stack`` as the worker reported them."""

    def __init__(self, remote_type: str, remote_stack: str, message: str) -> None:
        super().__init__(502, "engine_error", message, {"remote_type": remote_type, "remote_stack": remote_stack})
        self.remote_type = remote_type
        self.remote_stack = remote_stack

    def __str__(self) -> str:
        text = "[502 engine_error] {}: {}".format(self.remote_type, self.message)
        return text + "\n--- remote traceback ---\n" + self.remote_stack.rstrip() if self.remote_stack else text

    def __reduce__(self) -> Tuple[Any, ...]:
        return (self.__class__, (self.remote_type, self.remote_stack, self.message))


class ArbiterConnectionError(ArbiterError, ConnectionError):
    """No answer from Arbiter: the endpoint is unreachable (``code`` ``unreachable``) or did not answer within the
    timeout (``timeout``). ``status`` is None. Also a ``ConnectionError``."""


#: The states a worker never leaves (shared/names.ts WORKER_STATES).
ENDED_STATES = frozenset({"exited", "failed", "stopped", "preempted"})
