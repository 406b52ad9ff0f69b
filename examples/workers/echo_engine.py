"""An example engine for ``python3 -m arbiter_worker``: a class whose public methods are called by name.

Its twin for ``arbiter worker`` is echo_engine.mjs; the tests run both through the same cases::

    cd examples/workers && PYTHONPATH=../../clients/python python3 -m arbiter_worker --port 9100
    curl -s localhost:9100/engine -d '{"engine": "echo_engine:EchoEngine", "init_config": {"tag": "a"}}'
    curl -s localhost:9100/call -d '{"method": "add", "args": [2, 3]}'          # {"result": 5}

The constructor gets ``init_config`` (or nothing) as its one argument; ``kwargs`` are keyword arguments.
``close()`` is called when the engine is replaced or the worker stops; with ``init_config["closed_file"]`` it also
appends its tag to that file, so that a closing at exit can be seen.
"""
import asyncio
import os

#: Tags of the engines closed in this process, in order (a replaced engine's close is seen by the next one).
closed = []


class EchoError(Exception):
    """What ``fail`` raises: its class name is the error's ``remote_type``."""


class EchoEngine:
    def __init__(self, config=None):
        self.config = config if config is not None else {}

    def add(self, a, b):
        return a + b

    def echo(self, x):
        return x

    def greet(self, name, greeting="hello", punctuation=""):
        return "{}, {}{}".format(greeting, name, punctuation)

    async def later(self, x):
        """An async method: the worker awaits it."""
        await asyncio.sleep(0)
        return {"later": x}

    def info(self):
        """Where it runs: the worker's id and the GPUs it was granted, from the environment Arbiter gave it."""
        return {
            "worker_id": os.environ.get("ARBITER_WORKER_ID"),
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "config": self.config,
            "closed": closed,
        }

    def fail(self, message="failed as asked"):
        raise EchoError(message)

    def not_json(self):
        """A result JSON cannot hold (a set): the worker answers an engine_error of type TypeError."""
        return {1, 2}

    def _secret(self):
        """Private: not callable through /call."""
        return "hidden"

    def close(self):
        config = self.config if isinstance(self.config, dict) else {}
        closed.append(config.get("tag"))
        if config.get("closed_file"):
            with open(config["closed_file"], "a") as f:
                f.write("{}\n".format(config.get("tag")))


async def make_echo_engine(config=None):
    """The same engine from an async factory: ``echo_engine:make_echo_engine``."""
    await asyncio.sleep(0)
    return EchoEngine(config)
