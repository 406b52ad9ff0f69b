"""The reference API's dataclasses: what ``create_workers`` takes and what ``get_workers`` returns.

``ContainerSpec`` and ``SchedulingConfig`` keep the reference names (``cpu`` in millicores, ``gpu`` whole GPUs,
``mem`` MiB); ``Worker`` mirrors WorkerSchema in shared/workers.ts.
"""
from dataclasses import dataclass, field, fields
from typing import Any, Dict, List, Mapping, Optional, Union


@dataclass
class ContainerSpec:
    """One replica's resources and how to run it (ContainerSpecSchema)."""

    #: millicores
    cpu: int = 0
    #: whole GPUs
    gpu: int = 0
    #: MiB
    mem: int = 0
    #: MiB of one GPU shared with others (instead of whole GPUs; gpu then 0 or 1); None: whole GPUs only
    gpu_mem: Optional[int] = None
    #: its GPUs only of these models (``A100`` matches ``NVIDIA A100-SXM4-80GB``); empty: any GPU
    gpu_models: List[str] = field(default_factory=list)
    #: the image (docker backend); empty: none
    container_image: str = ""
    #: a command line (run by /bin/sh -c) or an argv
    cmd: Union[str, List[str]] = ""
    env_vars: Dict[str, str] = field(default_factory=dict)
    #: the port the worker listens on; None: Arbiter picks a free one and gives it as ARBITER_PORT
    port: Optional[int] = None

    def to_json(self) -> Dict[str, Any]:
        """The body's form: unset optional fields left out."""
        out: Dict[str, Any] = {"cpu": self.cpu, "gpu": self.gpu, "mem": self.mem}
        if self.gpu_mem is not None:
            out["gpu_mem"] = self.gpu_mem
        if self.gpu_models:
            out["gpu_models"] = list(self.gpu_models)
        if self.container_image:
            out["container_image"] = self.container_image
        out["cmd"] = list(self.cmd) if isinstance(self.cmd, (list, tuple)) else self.cmd
        if self.env_vars:
            out["env_vars"] = dict(self.env_vars)
        if self.port is not None:
            out["port"] = self.port
        return out


@dataclass
class SchedulingConfig:
    """What ``create_workers`` takes: how many replicas, and one spec for all or one per replica.

    ``name``, ``backend`` (``local`` or ``docker``), ``owner``, ``priority`` and ``preemptible`` are Arbiter's
    optional additions; the group's name defaults to ``expr_name/trial_name`` and the owner to ``expr_name``.
    """

    replicas: int = 1
    specs: List[ContainerSpec] = field(default_factory=list)
    name: Optional[str] = None
    backend: Optional[str] = None
    owner: Optional[str] = None
    priority: Optional[int] = None
    preemptible: Optional[bool] = None


@dataclass
class Worker:
    """One replica as Arbiter reports it (WorkerSchema)."""

    #: ``<group>-<replica>``
    id: str = ""
    #: the group's name
    name: str = ""
    replica: int = 0
    #: queued, starting, running, suspended, exited, failed, stopped, preempted
    state: str = ""
    #: local or docker
    backend: str = ""
    owner: str = ""
    #: where its port is reached
    host: str = ""
    port: Optional[int] = None
    #: the GPU indices it was granted (its CUDA_VISIBLE_DEVICES)
    gpus: List[int] = field(default_factory=list)
    allocation_id: Optional[str] = None
    request_id: Optional[str] = None
    exit_code: Optional[int] = None
    #: ms since the epoch
    started_at: Optional[float] = None
    #: the last lines of its output
    log_tail: List[str] = field(default_factory=list)
    #: the engine created in it
    engine: Optional[str] = None
    #: why it is not running, in words
    why: Optional[str] = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Worker":
        """A Worker from Arbiter's JSON; fields this client does not know are ignored (a newer server)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
