"""arbiter_worker: the python runtime of Arbiter's worker contract (standard library only, Python >= 3.9).

A worker holds one engine, made from its name (``package.module:ClassName``), and calls its methods by name over
HTTP: ``GET /health``, ``POST /engine``, ``POST /call`` (shared/workers.ts in Arbiter holds the schemas; ``arbiter
worker`` is the node runtime of the same contract). Run it with ``python3 -m arbiter_worker [--port N] [--host H]``
and ``clients/python`` on ``PYTHONPATH``; ``start_worker`` runs one in a program of your own.
"""
from .server import RUNTIME, EngineHost, Worker, start_worker

__all__ = ["RUNTIME", "EngineHost", "Worker", "start_worker"]
