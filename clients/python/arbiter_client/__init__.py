"""arbiter_client: the Python client of Arbiter's workers, with the reference scheduler API's names (standard
library only, Python >= 3.9).

    from arbiter_client import ContainerSpec, SchedulingConfig, make_scheduler

    scheduler = make_scheduler({"type": "arbiter", "endpoint": "http://127.0.0.1:7070",
                                "expr_name": "exp", "trial_name": "t1"})   # token: config "token" or env ARBITER_TOKEN
    scheduler.create_workers(SchedulingConfig(replicas=2, specs=[ContainerSpec(cpu=1000, gpu=1, mem=1024,
                             cmd="python3 -m arbiter_worker")]))
    workers = scheduler.get_workers(timeout=300.0)
    scheduler.create_engine(workers[0].id, "echo_engine:EchoEngine")
    scheduler.call_engine(workers[0].id, "add", 2, 3)                      # 5
    scheduler.delete_workers()

It speaks Arbiter's REST API ``/api/workers`` (shared/workers.ts) and behaves as the TypeScript client
(clients/typescript/arbiter-scheduler.ts).
"""
from typing import Any, Mapping

from .errors import ENDED_STATES, ArbiterConnectionError, ArbiterError, NotReadyError, RemoteEngineError
from .models import ContainerSpec, SchedulingConfig, Worker
from .scheduler import Scheduler


def make_scheduler(config: Mapping[str, Any], **options: Any) -> Scheduler:
    """The scheduler client a config names: ``{"type": "arbiter", "endpoint", "expr_name", "trial_name",
    "token"?}`` (ValueError for any other type). ``options``: those of :class:`Scheduler`."""
    if not isinstance(config, Mapping):
        raise ValueError('config must be a dict with "type": "arbiter", not {}'.format(type(config).__name__))
    if config.get("type") != "arbiter":
        raise ValueError('unknown scheduler type {!r}: this client knows "arbiter" only'.format(config.get("type")))
    return Scheduler(config, **options)


__all__ = [
    "ENDED_STATES",
    "ArbiterConnectionError",
    "ArbiterError",
    "ContainerSpec",
    "NotReadyError",
    "RemoteEngineError",
    "SchedulingConfig",
    "Scheduler",
    "Worker",
    "make_scheduler",
]
