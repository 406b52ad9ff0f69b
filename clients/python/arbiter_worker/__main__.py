"""``python3 -m arbiter_worker [--port N] [--host H]``: run a worker until SIGTERM/SIGINT.

Prints one line on stdout when it listens (``Worker <id> listening on http://host:port (runtime python)``). The
port is ``--port``, else env ARBITER_PORT (0 = any free port); the host ``--host``, else env ARBITER_HOST, else
127.0.0.1; the worker's id env ARBITER_WORKER_ID. A bad option is one line on stderr and exit 2. On SIGTERM it
stops listening, closes its engine (a second signal exits at once, with 1) and exits 0.
"""
import argparse
import os
import signal
import sys
import threading

from .server import start_worker


def _say(line):
    sys.stderr.write("arbiter_worker: {}\n".format(line))
    sys.stderr.flush()


def _port(text):
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a number, not {!r}".format(text))
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError("expected 0 to 65535, not {}".format(port))
    return port


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        _say(message)
        sys.exit(2)


def main(argv=None, env=None):
    env = os.environ if env is None else env
    parser = _Parser(prog="python3 -m arbiter_worker", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=_port, help="port to listen on, 0 = any free port (default: env ARBITER_PORT)")
    parser.add_argument("--host", help="address to listen on (default: env ARBITER_HOST, else 127.0.0.1)")
    args = parser.parse_args(argv)
    port = args.port
    if port is None:
        if not env.get("ARBITER_PORT"):
            parser.error("--port: required (or env ARBITER_PORT)")
        try:
            port = _port(env["ARBITER_PORT"])
        except argparse.ArgumentTypeError as err:
            parser.error("ARBITER_PORT: {}".format(err))
    host = args.host or env.get("ARBITER_HOST") or "127.0.0.1"
    worker_id = env.get("ARBITER_WORKER_ID") or None

    stop = threading.Event()

    def on_signal(signum, _frame):
        if stop.is_set():
            os._exit(1)
        _say("{}, shutting down".format(signal.Signals(signum).name))
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        worker = start_worker(port=port, host=host, worker_id=worker_id, log=_say)
    except OSError as err:
        _say("cannot listen on {}:{}: {}".format(host, port, err))
        return 1
    prefix = "" if worker_id is None else worker_id + " "
    sys.stdout.write("Worker {}listening on {} (runtime python)\n".format(prefix, worker.url))
    sys.stdout.flush()
    stop.wait()
    worker.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
