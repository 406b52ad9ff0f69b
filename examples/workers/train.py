"""Training-side example of Arbiter's workers through the Python client (clients/python/arbiter_client).

It asks for 2 workers running ``python3 -m arbiter_worker`` (the python worker runtime, clients/python/arbiter_worker),
waits until both run, creates the example engine ``echo_engine:EchoEngine`` (examples/workers/echo_engine.py) in
each, calls it (positional and keyword arguments, and an exception raised by the engine), and deletes the workers.
With Arbiter running (local backend) on this machine::

    ARBITER_TOKEN=<token> python3 examples/workers/train.py [--endpoint http://127.0.0.1:7070] [--gpu 1]

The workers run on Arbiter's machine: the paths put on their PYTHONPATH are this checkout's.
"""
import argparse
import os
import sys
from typing import List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON_CLIENTS = os.path.join(os.path.dirname(os.path.dirname(HERE)), "clients", "python")
sys.path.insert(0, PYTHON_CLIENTS)

from arbiter_client import ContainerSpec, NotReadyError, RemoteEngineError, SchedulingConfig, make_scheduler  # noqa: E402


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--endpoint", default=os.environ.get("ARBITER_URL", "http://127.0.0.1:7070"))
    parser.add_argument("--expr", default="echo-demo", help="expr_name: the owner, and the group's first part")
    parser.add_argument("--trial", default="trial-1", help="trial_name: the group's second part")
    parser.add_argument("--gpu", type=int, default=0, help="GPUs for each worker")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the workers")
    args = parser.parse_args(argv)

    # the reference API's client config: switching schedulers is a matter of this dict
    scheduler = make_scheduler({"type": "arbiter", "endpoint": args.endpoint, "expr_name": args.expr, "trial_name": args.trial})
    spec = ContainerSpec(cpu=500, gpu=args.gpu, mem=512, cmd="python3 -m arbiter_worker",
                         env_vars={"PYTHONPATH": os.pathsep.join([PYTHON_CLIENTS, HERE])})
    scheduler.create_workers(SchedulingConfig(replicas=2, specs=[spec]))
    try:
        try:
            workers = scheduler.get_workers(timeout=args.timeout)
        except NotReadyError as err:
            for d in err.details:
                print("not ready: {} {} ({})".format(d["id"], d["state"], d["why"]))
            return 1
        for w in workers:
            print("{} running at {}:{} on GPUs {}".format(w.id, w.host, w.port, w.gpus))
            scheduler.create_engine(w.id, "echo_engine:EchoEngine", {"tag": w.id})
            print("  add(2, 3) =", scheduler.call_engine(w.id, "add", 2, 3))
            print("  greet('Ada', greeting='hi') =", scheduler.call_engine(w.id, "greet", "Ada", greeting="hi"))
            print("  info() =", scheduler.call_engine(w.id, "info"))
        try:
            scheduler.call_engine(workers[0].id, "fail", "failed on purpose")
        except RemoteEngineError as err:
            print("the engine raised {}: {}".format(err.remote_type, err.message))
        return 0
    finally:
        scheduler.delete_workers()


if __name__ == "__main__":
    sys.exit(main())
