"""``Scheduler``: Arbiter's workers with the reference scheduler API's names, signatures and defaults.

The behaviour mirrors the TypeScript client (clients/typescript/arbiter-scheduler.ts); the REST API it speaks is
``/api/workers`` (shared/workers.ts, server/http/routes/workers.ts).
"""
import math
import os
import time
import urllib.parse
from typing import Any, Dict, List, Mapping, Optional, Union

from .errors import NotReadyError
from .models import ContainerSpec, SchedulingConfig, Worker
from .transport import request_json

#: A long wait is asked for in slices (seconds), so that no proxy or server time limit cuts it.
WAIT_SLICE = 30.0
#: The longest slice Arbiter accepts (``timeoutMs`` ≤ 3,600,000).
MAX_WAIT_SLICE = 3600.0


class Scheduler:
    """A client of one Arbiter, for the workers of one experiment's trial.

    ``config``: ``{"type": "arbiter", "endpoint": "http://host:7070", "expr_name": ..., "trial_name": ...,
    "token"?: ...}``; the token (Arbiter's API token) is else read from env ``ARBITER_TOKEN``. The workers' group
    is ``expr_name/trial_name`` and their owner ``expr_name`` unless the SchedulingConfig names others.

    Options (seconds): ``wait_slice`` (default 30) the longest wait asked of Arbiter in one request of
    ``get_workers``; ``http_timeout`` (default 60) for an answer to any request, on top of the wait asked;
    ``call_timeout`` (default 330, past Arbiter's own 300 s limit on an engine call) for ``call_engine`` and
    ``create_engine``.
    """

    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        wait_slice: float = WAIT_SLICE,
        http_timeout: float = 60.0,
        call_timeout: float = 330.0,
    ) -> None:
        if not isinstance(config, Mapping):
            raise ValueError("config must be a dict, not {}".format(type(config).__name__))
        if config.get("type") != "arbiter":
            raise ValueError('config["type"] must be "arbiter", not {!r}'.format(config.get("type")))
        for key in ("endpoint", "expr_name", "trial_name"):
            if not isinstance(config.get(key), str) or not config[key]:
                raise ValueError('config["{}"] must be a non-empty string, not {!r}'.format(key, config.get(key)))
        endpoint = config["endpoint"].rstrip("/")
        if urllib.parse.urlsplit(endpoint).scheme not in ("http", "https"):
            raise ValueError('config["endpoint"] must be an http:// or https:// URL, not {!r}'.format(config["endpoint"]))
        if not 0 < wait_slice <= MAX_WAIT_SLICE:
            raise ValueError("wait_slice must be more than 0 and at most {:g} s, not {!r}".format(MAX_WAIT_SLICE, wait_slice))
        for name, value in (("http_timeout", http_timeout), ("call_timeout", call_timeout)):
            if not value > 0:
                raise ValueError("{} must be more than 0 s, not {!r}".format(name, value))
        self.config: Dict[str, Any] = dict(config)
        self.endpoint = endpoint
        #: the group this client's workers form: ``expr_name/trial_name``
        self.group = "{}/{}".format(config["expr_name"], config["trial_name"])
        self.token: Optional[str] = config.get("token") or os.environ.get("ARBITER_TOKEN") or None
        self.wait_slice = float(wait_slice)
        self.http_timeout = float(http_timeout)
        self.call_timeout = float(call_timeout)

    def create_workers(self, scheduling_config: Union[SchedulingConfig, Mapping[str, Any]]) -> List[Worker]:
        """Ask for the workers; they start as the scheduler grants them. Returns them as they are now (queued or
        starting): wait for them with ``get_workers``."""
        sc = scheduling_config if isinstance(scheduling_config, SchedulingConfig) else SchedulingConfig(**scheduling_config)
        body: Dict[str, Any] = {
            "name": sc.name if sc.name is not None else self.group,
            "owner": sc.owner if sc.owner is not None else self.config["expr_name"],
            "replicas": sc.replicas,
            "specs": [_spec(s).to_json() for s in sc.specs],
        }
        for key in ("backend", "priority", "preemptible"):
            if getattr(sc, key) is not None:
                body[key] = getattr(sc, key)
        answer = self._request("POST", "/api/workers", body)
        return [Worker.from_json(w) for w in answer["workers"]]

    def get_workers(self, timeout: float = 300.0, name: Optional[str] = None) -> List[Worker]:
        """The group's workers once every one is running and answering (``timeout`` in seconds).

        Raises :class:`NotReadyError` at the timeout, or as soon as a replica has ended (it will never run), whose
        ``details`` say for each worker why it is not running. ``name``: another group than this client's.
        """
        group = name if name is not None else self.group
        deadline = time.monotonic() + timeout
        while True:
            wait = min(max(0.0, deadline - time.monotonic()), self.wait_slice)
            query = urllib.parse.urlencode({"name": group, "timeoutMs": str(math.ceil(wait * 1000))})
            try:
                answer = self._request("GET", "/api/workers?" + query, timeout=wait + self.http_timeout)
                return [Worker.from_json(w) for w in answer["workers"]]
            except NotReadyError as err:
                # past the deadline, or a replica that ended: no use waiting longer
                if time.monotonic() >= deadline or err.ended:
                    raise

    def delete_workers(self, name: Optional[str] = None) -> None:
        """Stop the group's workers (``name``: another group; None: this client's group); returns once they have
        ended."""
        self._request("DELETE", "/api/workers/" + _seg(name if name is not None else self.group))

    def create_engine(self, worker_id: str, engine_obj: str, init_config: Any = None) -> None:
        """Create the engine ``engine_obj`` (``package.module:ClassName`` for ``python3 -m arbiter_worker``,
        ``path/to/module.js#Export`` for ``arbiter worker``) in a worker, given ``init_config`` when not None."""
        body: Dict[str, Any] = {"engine": engine_obj}
        if init_config is not None:
            body["init_config"] = init_config
        self._request("POST", "/api/workers/{}/engine".format(_seg(worker_id)), body, timeout=self.call_timeout)

    def call_engine(self, worker_id: str, method: str, /, *args: Any, **kwargs: Any) -> Any:
        """Call ``method`` of a worker's engine with positional and keyword arguments (JSON values); its result.

        An exception raised by the engine is a :class:`RemoteEngineError` with its ``remote_type`` and
        ``remote_stack``.
        """
        body = {"method": method, "args": list(args), "kwargs": kwargs}
        return self._request("POST", "/api/workers/{}/call".format(_seg(worker_id)), body, timeout=self.call_timeout)["result"]

    def _request(self, method: str, path: str, body: Any = None, timeout: Optional[float] = None) -> Any:
        return request_json(method, self.endpoint + path, body, self.token, self.http_timeout if timeout is None else timeout)


def _spec(spec: Union[ContainerSpec, Mapping[str, Any]]) -> ContainerSpec:
    return spec if isinstance(spec, ContainerSpec) else ContainerSpec(**spec)


def _seg(value: str) -> str:
    """One URL path segment: a group's name and a worker's id contain ``/``."""
    return urllib.parse.quote(value, safe="")
