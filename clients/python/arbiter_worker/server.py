"""The worker's side of Arbiter's worker contract, on the standard library's http.server.

``GET /health`` says how it is, ``POST /engine {engine, init_config?}`` makes the engine (replacing the one held),
``POST /call {method, args?, kwargs?}`` calls one of its methods. Errors are ``{"error": {"code", "message"}}``:
400 ``invalid_input`` naming the field (or ``(body)``), 400 ``engine_not_found``, 404 ``no_method``, 409
``no_engine``, 413 ``too_large`` (a body over 16 MiB), 500 ``engine_error`` with ``remote_type`` and
``remote_stack`` (what the engine's code raised, or a result that is not JSON), 404/405 for other routes.

Requests are taken by a thread each (ThreadingHTTPServer), so ``/health`` answers while a call runs; the engine's
code — its import, constructor, methods and ``close`` — runs on one thread, an asyncio event loop, the way the
node runtime runs it on its one: a plain method holds the loop until it returns (calls run one at a time), a
coroutine method lets other calls run while it awaits (they interleave).
"""
import asyncio
import importlib
import inspect
import json
import socket
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from urllib.parse import urlsplit

RUNTIME = "python"
MAX_BODY_BYTES = 16 * 1024 * 1024
_HERE = __file__


class WorkerError(Exception):
    """An answer other than 200: an HTTP status, the contract's code and a message."""

    def __init__(self, status, code, message):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self):
        return {"error": {"code": self.code, "message": self.message}}


class EngineFailure(WorkerError):
    """What the engine's code raised (HTTP 500, code ``engine_error``): its class name, message and traceback."""

    def __init__(self, remote_type, message, remote_stack):
        super().__init__(500, "engine_error", message)
        self.remote_type = remote_type
        self.remote_stack = remote_stack

    def body(self):
        return {"error": {"code": self.code, "message": self.message, "remote_type": self.remote_type, "remote_stack": self.remote_stack}}

    @classmethod
    def of(cls, exc):
        """The failure an exception stands for; its traceback starts at the engine's code (this module's frames left out)."""
        tb = exc.__traceback__
        while tb is not None and (tb.tb_frame.f_code.co_filename == _HERE or tb.tb_frame.f_code.co_filename.startswith("<frozen importlib")):
            tb = tb.tb_next
        if tb is None:  # raised by the call itself (e.g. a wrong number of arguments): no frame of the engine's
            return cls(type(exc).__name__, str(exc), "".join(traceback.format_exception_only(type(exc), exc)))
        stack = "".join(traceback.format_exception(type(exc), exc, tb))
        return cls(type(exc).__name__, str(exc), stack)


def _not_found(name, why):
    return WorkerError(400, "engine_not_found", "engine {}: {}".format(json.dumps(name), why))


def _identifiers(text):
    return bool(text) and all(part.isidentifier() for part in text.split("."))


class EngineHost:
    """The engine a worker holds: made from ``package.module:ClassName``, called by method name, closed when replaced.

    The class (or any callable: a factory, which may be a coroutine function) gets ``init_config`` as its one
    argument, or no argument when the body has none.
    """

    def __init__(self, log=None):
        self._log = log or (lambda line: None)
        self._engine = None
        self._name = None
        self._state = threading.Lock()
        self._replacing = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="arbiter-worker-engine", daemon=True)
        self._thread.start()

    @property
    def name(self):
        """The name of the engine held, or None."""
        with self._state:
            return self._name

    def create(self, name, init_config=None, has_config=False):
        """Make the engine ``name`` in place of the one held.

        The name is resolved first (a bad one leaves the old engine as it was); then the old engine is closed
        before the new one is made (two engines would not both fit on one GPU), so when the new one's constructor
        raises, the worker holds none.
        """
        with self._replacing:
            make = self._on_loop(self._resolve, name)
            self.close()
            args = (init_config,) if has_config else ()
            engine = self._on_loop(make, *args)
            with self._state:
                self._engine = engine
                self._name = name
            return name

    def call(self, method, args=(), kwargs=None):
        """``getattr(engine, method)(*args, **kwargs)``, a coroutine awaited."""
        with self._state:
            engine, name = self._engine, self._name
        if engine is None:
            raise WorkerError(409, "no_engine", "this worker has no engine: create one with POST /engine first")
        if method.startswith("_"):
            raise WorkerError(404, "no_method", "engine {}: {} is private (starts with _)".format(name, json.dumps(method)))
        try:
            fn = getattr(engine, method, None)
        except Exception as exc:
            raise EngineFailure.of(exc)
        if not callable(fn):
            raise WorkerError(404, "no_method", "engine {}: {} is not a method of it".format(name, json.dumps(method)))
        return self._on_loop(fn, *args, **(kwargs or {}))

    def close(self):
        """Close the engine held (its ``close`` or ``shutdown``; what it raises is logged), and hold none."""
        with self._state:
            engine, name = self._engine, self._name
            self._engine = self._name = None
        if engine is None:
            return
        closer = None
        for attr in ("close", "shutdown"):
            closer = getattr(engine, attr, None)
            if callable(closer):
                break
            closer = None
        if closer is None:
            return
        try:
            self._on_loop(closer)
        except EngineFailure as failure:
            self._log("engine {}: closing it raised {}".format(name, failure.remote_stack.rstrip()))

    def stop(self):
        """Close the engine, then end the engine's thread."""
        self.close()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()

    def _on_loop(self, fn, *args, **kwargs):
        """Run ``fn`` on the engine's thread (awaiting what it returns when that is awaitable) and wait for it.

        What it raises is an EngineFailure, made on that thread (its traceback is the engine's code's), unless it
        is a WorkerError already.
        """

        async def run():
            try:
                result = fn(*args, **kwargs)
                if inspect.isawaitable(result):
                    result = await result
                return result
            except WorkerError:
                raise
            except (Exception, SystemExit) as exc:
                raise EngineFailure.of(exc) from None

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result()

    def _resolve(self, name):
        """The callable a name stands for: engine_not_found when there is none, engine_error when importing raises."""
        module_name, sep, attr = name.rpartition(":")
        if not sep or not _identifiers(module_name) or not _identifiers(attr):
            raise _not_found(name, "expected package.module:ClassName")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
                raise _not_found(name, "no module named {}".format(json.dumps(exc.name)))
            raise  # a module the engine's module imports: the engine's error
        obj = module
        for part in attr.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                raise _not_found(name, "module {} has no {}".format(module_name, json.dumps(attr)))
        if not callable(obj):
            raise _not_found(name, "{} is not a class or function".format(attr))
        return obj


# ------------------------------------------------------------------ bodies


def _json_type(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


class _Body:
    """A body's checks, in the words of the node runtime's (zod): each problem ``field: message``."""

    def __init__(self, body, keys):
        if not isinstance(body, dict):
            raise _invalid(["(body): Invalid input: expected object, received {}".format(_json_type(body))])
        self.body = body
        self.problems = []
        self.unknown = ['(body): Unrecognized key: "{}"'.format(k) for k in body if k not in keys]

    def text(self, key, max_len):
        if key not in self.body:
            self.problems.append("{}: Invalid input: expected string, received undefined".format(key))
            return None
        value = self.body[key]
        if not isinstance(value, str):
            self.problems.append("{}: Invalid input: expected string, received {}".format(key, _json_type(value)))
        elif len(value) < 1:
            self.problems.append("{}: Too small: expected string to have >=1 characters".format(key))
        elif len(value) > max_len:
            self.problems.append("{}: Too big: expected string to have <={} characters".format(key, max_len))
        return value

    def typed(self, key, kind, default):
        value = self.body.get(key, default)
        want = "array" if kind is list else "record"
        if not isinstance(value, kind):
            self.problems.append("{}: Invalid input: expected {}, received {}".format(key, want, _json_type(value)))
        elif kind is list and len(value) > 10000:
            self.problems.append("{}: Too big: expected array to have <=10000 items".format(key))
        return value

    def check(self):
        if self.problems or self.unknown:
            raise _invalid(self.problems + self.unknown)


def _invalid(problems):
    return WorkerError(400, "invalid_input", "invalid body: " + "; ".join(problems))


def _reject_constant(name):
    raise ValueError("{} is not JSON".format(name))


# ------------------------------------------------------------------ HTTP


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, handler, worker_id, engines):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.worker_id = worker_id
        self.engines = engines
        self.connections = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, handler)

    def server_bind(self):
        # HTTPServer's own looks the host's name up (socket.getfqdn), which can wait on DNS: not needed here
        TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "arbiter_worker"

    def setup(self):
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            with self.server.connections_lock:
                self.server.connections.discard(self.connection)

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass

    def do_GET(self):
        self._route("GET")

    def do_POST(self):
        self._route("POST")

    def do_PUT(self):
        self._route("PUT")

    def do_DELETE(self):
        self._route("DELETE")

    def do_PATCH(self):
        self._route("PATCH")

    def _route(self, method):
        routes = {
            "/health": {"GET": self._health},
            "/engine": {"POST": self._engine},
            "/call": {"POST": self._call},
        }
        path = urlsplit(self.path).path
        try:
            route = routes.get(path)
            if route is None:
                raise WorkerError(404, "not_found", "no route {} {}".format(method, path))
            handle = route.get(method)
            if handle is None:
                raise WorkerError(405, "method_not_allowed", "{} takes {}".format(path, ", ".join(route)))
            self._answer(200, handle())
        except WorkerError as err:
            self._answer(err.status, json.dumps(err.body()))
        except Exception as exc:  # the worker's own bug: said, not hidden
            self._answer(500, json.dumps({"error": {"code": "internal", "message": "internal error: {}".format(exc)}}))

    def _health(self):
        engines = self.server.engines
        return json.dumps({"status": "ok", "worker_id": self.server.worker_id, "engine": engines.name, "runtime": RUNTIME})

    def _engine(self):
        body = _Body(self._read_json(), ("engine", "init_config"))
        name = body.text("engine", 1024)
        body.check()
        has_config = "init_config" in body.body
        return json.dumps({"engine": self.server.engines.create(name, body.body.get("init_config"), has_config)})

    def _call(self):
        body = _Body(self._read_json(), ("method", "args", "kwargs"))
        method = body.text("method", 256)
        args = body.typed("args", list, [])
        kwargs = body.typed("kwargs", dict, {})
        body.check()
        result = self.server.engines.call(method, args, kwargs)
        try:
            return json.dumps({"result": result}, allow_nan=False)
        except (TypeError, ValueError) as exc:
            message = "the result of {} is not JSON-serializable: {}".format(method, exc)
            raise EngineFailure("TypeError", message, "TypeError: " + message)

    def _read_json(self):
        """The body as JSON (Content-Length or chunked); over MAX_BODY_BYTES: 413, and the connection is closed."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = self._read_chunked()
        else:
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                self.close_connection = True
                raise WorkerError(400, "invalid_input", "invalid body: (body): bad Content-Length")
            if length > MAX_BODY_BYTES:
                self.close_connection = True
                raise WorkerError(413, "too_large", "body over {} bytes".format(MAX_BODY_BYTES))
            data = self.rfile.read(length)
        try:
            return json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
        except ValueError as exc:
            raise WorkerError(400, "invalid_input", "invalid body: (body): not JSON ({})".format(exc))

    def _read_chunked(self):
        parts = []
        size = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                n = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                raise WorkerError(400, "invalid_input", "invalid body: (body): bad chunked encoding")
            if n == 0:
                while self.rfile.readline(1024).strip():
                    pass  # trailers
                return b"".join(parts)
            size += n
            if size > MAX_BODY_BYTES:
                self.close_connection = True
                raise WorkerError(413, "too_large", "body over {} bytes".format(MAX_BODY_BYTES))
            parts.append(self.rfile.read(n))
            self.rfile.readline(16)

    def _answer(self, status, text):
        data = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)


class Worker:
    """A worker started in this process (``start_worker``): listening until ``close()``."""

    def __init__(self, server, engines, host, worker_id):
        self._server = server
        self.engines = engines
        self.worker_id = worker_id
        self.port = server.server_address[1]
        self.url = "http://{}:{}".format("[{}]".format(host) if ":" in host else host, self.port)
        self._thread = threading.Thread(target=server.serve_forever, name="arbiter-worker-http", daemon=True)
        self._thread.start()
        self._closed = False

    def close(self):
        """Stop listening (open connections are closed), then close the engine held."""
        if self._closed:
            return
        self._closed = True
        self._server.shutdown()
        self._server.server_close()
        with self._server.connections_lock:
            for conn in list(self._server.connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self._thread.join()
        self.engines.stop()


def start_worker(port=0, host="127.0.0.1", worker_id=None, log=None):
    """Start a worker listening on ``host:port`` (0 = any free port); raises OSError when it cannot listen."""
    engines = EngineHost(log=log)
    try:
        server = _Server((host, port), _Handler, worker_id, engines)
    except BaseException:
        engines.stop()
        raise
    return Worker(server, engines, host, worker_id)
