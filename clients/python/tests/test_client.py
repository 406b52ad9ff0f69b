"""arbiter_client against a stand-in Arbiter: an http.server on 127.0.0.1 (port 0) in a thread that answers
/api/workers as Arbiter does (server/http/routes/workers.ts) and records every request.

    python3 -m unittest discover -s clients/python/tests -t clients/python      # from the repository's root
"""
import contextlib
import importlib.util
import io
import json
import os
import pickle
import socket
import sys
import threading
import time
import unittest
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.dirname(HERE))

from arbiter_client import (  # noqa: E402
    ArbiterConnectionError, ArbiterError, ContainerSpec, NotReadyError, RemoteEngineError, Scheduler,
    SchedulingConfig, Worker, make_scheduler,
)

CONFIG = {"type": "arbiter", "expr_name": "expr", "trial_name": "trial", "token": "s3cret"}


class Recorded:
    """One request as the stand-in saw it: ``path`` raw (still URL-encoded), ``query`` parsed."""

    def __init__(self, method: str, raw_path: str, headers: Dict[str, str], body: Any) -> None:
        parts = urllib.parse.urlsplit(raw_path)
        self.method = method
        self.path = parts.path
        self.query = dict(urllib.parse.parse_qsl(parts.query))
        self.headers = headers
        self.body = body


def error(status: int, code: str, message: str, details: Any = None) -> Tuple[int, Any]:
    e: Dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        e["details"] = details
    return status, {"error": e}


class StandIn:
    """Arbiter's /api/workers, just enough of it: groups of workers that get ready after a number of waits."""

    def __init__(self) -> None:
        self.requests: List[Recorded] = []
        self.groups: Dict[str, List[Dict[str, Any]]] = {}
        #: waits answered 408 (after waiting timeoutMs) before the group is running; -1: never running
        self.not_ready_answers = 0
        #: a replica that ended (replica 1 takes this state), so that a wait answers 408 at once
        self.ended: Optional[str] = None
        self.lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"stand_in": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None  # a client that gave up: no traceback
        self.url = "http://127.0.0.1:{}".format(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def of(self, method: str) -> List[Recorded]:
        return [r for r in self.requests if r.method == method]

    def worker(self, worker_id: str) -> Optional[Dict[str, Any]]:
        return next((w for g in self.groups.values() for w in g if w["id"] == worker_id), None)

    def answer(self, req: Recorded) -> Tuple[int, Any]:
        segs = [urllib.parse.unquote(s) for s in req.path.split("/")[1:]]
        if segs[:2] != ["api", "workers"]:
            return error(404, "not_found", "no route")
        if req.method == "POST" and len(segs) == 2:
            return self.create(req.body)
        if req.method == "GET" and len(segs) == 2:
            return self.wait(req.query["name"], int(req.query["timeoutMs"]))
        if req.method == "DELETE" and len(segs) == 3:
            return self.delete(segs[2])
        if req.method == "POST" and len(segs) == 4 and segs[3] in ("engine", "call"):
            w = self.worker(segs[2])
            if w is None:
                return error(404, "not_found", "no worker {}".format(json.dumps(segs[2])))
            return self.engine(w, req.body) if segs[3] == "engine" else self.call(w, req.body)
        return error(404, "not_found", "no route")

    def create(self, body: Dict[str, Any]) -> Tuple[int, Any]:
        name, replicas, specs = body["name"], body["replicas"], body["specs"]
        if len(specs) not in (1, replicas):
            return error(400, "invalid_input", "body.specs: one spec for every replica or one per replica",
                         [{"path": "body.specs", "message": "one spec for every replica or one per replica"}])
        if name in self.groups:
            return error(409, "conflict", "a live worker group {} exists".format(json.dumps(name)))
        if any(s["gpu"] > 8 for s in specs):
            return error(422, "never_fits", "a replica asks for more GPUs than this machine has (8)")
        self.groups[name] = [{
            "id": "{}-{}".format(name, i), "name": name, "replica": i, "state": "queued",
            "backend": body.get("backend", "local"), "owner": body.get("owner", "anonymous"), "host": "127.0.0.1",
            "port": None, "gpus": [], "allocation_id": None, "request_id": "req-{}".format(i), "exit_code": None,
            "started_at": None, "log_tail": [], "engine": None, "why": "queued: waiting for 1 GPU",
            "a_field_of_a_newer_server": {"x": 1},
        } for i in range(replicas)]
        return 202, {"name": name, "workers": self.groups[name]}

    def wait(self, name: str, timeout_ms: int) -> Tuple[int, Any]:
        group = self.groups.get(name)
        if not group:
            return error(404, "not_found", "no worker group {}".format(json.dumps(name)))
        if self.ended is not None and len(group) > 1:
            group[1].update(state=self.ended, exit_code=1, why="exited with code 1")
        elif self.not_ready_answers == 0:
            for i, w in enumerate(group):
                w.update(state="running", port=9100 + i, gpus=[i], allocation_id="alloc-{}".format(i),
                         started_at=1.7e12, why=None)
            return 200, {"workers": group}
        else:
            time.sleep(timeout_ms / 1000)
            with self.lock:
                if self.not_ready_answers > 0:
                    self.not_ready_answers -= 1
        details = [{"id": w["id"], "state": w["state"], "why": w["why"]} for w in group if w["state"] != "running"]
        text = "; ".join("{} {} ({})".format(d["id"], d["state"], d["why"]) for d in details)
        return error(408, "not_ready", "{} worker(s) not running yet: {}".format(len(details), text), details)

    def delete(self, name: str) -> Tuple[int, Any]:
        group = self.groups.pop(name, None)
        if group is None:
            return error(404, "not_found", "no worker group {}".format(json.dumps(name)))
        for w in group:
            w.update(state="stopped", why="deleted")
        return 200, {"name": name, "workers": group}

    def engine(self, w: Dict[str, Any], body: Dict[str, Any]) -> Tuple[int, Any]:
        w["engine"] = body["engine"]
        return 200, {"engine": body["engine"]}

    def call(self, w: Dict[str, Any], body: Dict[str, Any]) -> Tuple[int, Any]:
        if w["engine"] is None:
            return error(409, "no_engine", "no engine in {}".format(w["id"]))
        if body["method"] == "fail":
            return 502, {"error": {"code": "engine_error", "message": (body["args"] or ["failed as asked"])[0],
                                   "remote_type": "EchoError",
                                   "remote_stack": 'Traceback (most recent call last):\n  File "echo_engine.py", line 58, in fail\nEchoError: failed as asked\n'}}
        if body["method"] == "slow":
            time.sleep(1.0)
        return 200, {"result": {"method": body["method"], "args": body["args"], "kwargs": body["kwargs"]}}


class _Handler(BaseHTTPRequestHandler):
    stand_in: StandIn

    def log_message(self, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        req = Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        self.stand_in.requests.append(req)
        if req.path == "/api/workers/text-error/call":
            status, text, kind = 503, b"Service Unavailable", "text/plain"
        else:
            status, answer = self.stand_in.answer(req)
            text, kind = json.dumps(answer).encode(), "application/json"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    do_GET = do_POST = do_DELETE = _serve


_saved_proxies: Dict[str, str] = {}


def setUpModule() -> None:
    # the stand-in is on 127.0.0.1: no proxy of the environment in between
    for key in [k for k in os.environ if k.lower().endswith("_proxy")]:
        _saved_proxies[key] = os.environ.pop(key)


def tearDownModule() -> None:
    os.environ.update(_saved_proxies)


class ClientTest(unittest.TestCase):
    def setUp(self) -> None:
        self.arbiter = StandIn()
        self.addCleanup(self.arbiter.close)

    def client(self, **options: Any) -> Scheduler:
        return make_scheduler(dict(CONFIG, endpoint=self.arbiter.url + "/"), **options)

    def ready_group(self, scheduler: Scheduler) -> List[Worker]:
        scheduler.create_workers(SchedulingConfig(replicas=2, specs=[ContainerSpec(cpu=500, gpu=0, mem=256, cmd="w")]))
        return scheduler.get_workers(timeout=5.0)

    # ------------------------------------------------------------------ create_workers

    def test_create_workers_sends_the_reference_fields_with_the_group_and_owner_defaults(self) -> None:
        spec = ContainerSpec(cpu=1000, gpu=1, mem=1024, cmd="python3 -m arbiter_worker", env_vars={"A": "1"})
        workers = self.client().create_workers(SchedulingConfig(replicas=3, specs=[spec]))
        (req,) = self.arbiter.requests
        self.assertEqual((req.method, req.path), ("POST", "/api/workers"))
        self.assertEqual(req.body, {
            "name": "expr/trial", "owner": "expr", "replicas": 3,
            "specs": [{"cpu": 1000, "gpu": 1, "mem": 1024, "cmd": "python3 -m arbiter_worker", "env_vars": {"A": "1"}}],
        })
        self.assertEqual(req.headers["authorization"], "Bearer s3cret")
        self.assertEqual(req.headers["content-type"], "application/json")
        self.assertEqual(req.headers["accept"], "application/json")
        self.assertEqual([w.id for w in workers], ["expr/trial-0", "expr/trial-1", "expr/trial-2"])
        self.assertIsInstance(workers[0], Worker)
        self.assertEqual((workers[2].replica, workers[2].state, workers[2].owner, workers[2].request_id),
                         (2, "queued", "expr", "req-2"))
        self.assertFalse(hasattr(workers[0], "a_field_of_a_newer_server"))

    def test_create_workers_passes_arbiters_additions_and_every_spec_field(self) -> None:
        self.client().create_workers(SchedulingConfig(
            replicas=2, name="serve/v2", backend="docker", owner="alice", priority=5, preemptible=True,
            specs=[ContainerSpec(cpu=0, gpu=0, mem=64, container_image="busybox:latest", cmd=["sh", "-c", "true"], port=9000),
                   {"cpu": 1, "gpu": 0, "mem": 1, "cmd": "x"}],
        ))
        self.client().create_workers(SchedulingConfig(replicas=1, specs=[
            ContainerSpec(cpu=1, gpu=1, mem=1, gpu_mem=4096, gpu_models=["A100", "H100"], cmd="x")]))
        self.assertEqual(self.arbiter.requests[0].body, {
            "name": "serve/v2", "owner": "alice", "replicas": 2, "backend": "docker", "priority": 5, "preemptible": True,
            "specs": [{"cpu": 0, "gpu": 0, "mem": 64, "container_image": "busybox:latest", "cmd": ["sh", "-c", "true"], "port": 9000},
                      {"cpu": 1, "gpu": 0, "mem": 1, "cmd": "x"}],
        })
        self.assertEqual(self.arbiter.requests[1].body["specs"],
                         [{"cpu": 1, "gpu": 1, "mem": 1, "gpu_mem": 4096, "gpu_models": ["A100", "H100"], "cmd": "x"}])

    def test_the_token_comes_from_the_config_else_ARBITER_TOKEN_else_none_is_sent(self) -> None:
        config = {k: v for k, v in CONFIG.items() if k != "token"}

        def delete(scheduler: Scheduler) -> None:
            with contextlib.suppress(ArbiterError):  # 404: no such group; only the headers matter here
                scheduler.delete_workers("g")

        with mock.patch.dict(os.environ, {"ARBITER_TOKEN": "from-env"}):
            delete(Scheduler(dict(config, endpoint=self.arbiter.url)))
            delete(Scheduler(dict(config, endpoint=self.arbiter.url, token="from-config")))
        with mock.patch.dict(os.environ, {}):
            os.environ.pop("ARBITER_TOKEN", None)
            delete(Scheduler(dict(config, endpoint=self.arbiter.url)))
        self.assertEqual([r.headers.get("authorization") for r in self.arbiter.requests],
                         ["Bearer from-env", "Bearer from-config", None])
        self.assertNotIn("content-type", self.arbiter.requests[0].headers)  # no body

    # ------------------------------------------------------------------ get_workers

    def test_get_workers_asks_for_the_group_in_slices_of_30_s_by_default(self) -> None:
        scheduler = self.client()
        scheduler.create_workers(SchedulingConfig(replicas=2, specs=[ContainerSpec(cpu=1, gpu=0, mem=1, cmd="w")]))
        workers = scheduler.get_workers()
        (get,) = self.arbiter.of("GET")
        self.assertEqual(get.query, {"name": "expr/trial", "timeoutMs": "30000"})
        self.assertEqual([(w.id, w.state, w.port, w.gpus, w.allocation_id) for w in workers],
                         [("expr/trial-0", "running", 9100, [0], "alloc-0"), ("expr/trial-1", "running", 9101, [1], "alloc-1")])

    def test_get_workers_asks_again_after_each_408_until_the_group_is_ready(self) -> None:
        scheduler = self.client(wait_slice=0.05)
        scheduler.create_workers(SchedulingConfig(replicas=1, specs=[ContainerSpec(cpu=1, gpu=0, mem=1, cmd="w")]))
        self.arbiter.not_ready_answers = 2
        workers = scheduler.get_workers(timeout=5.0)
        gets = self.arbiter.of("GET")
        self.assertEqual(len(gets), 3)
        self.assertTrue(all(0 < int(g.query["timeoutMs"]) <= 50 for g in gets), [g.query for g in gets])
        self.assertEqual(workers[0].state, "running")

    def test_get_workers_gives_up_at_the_deadline_with_why_each_worker_is_not_running(self) -> None:
        scheduler = self.client(wait_slice=0.1)
        scheduler.create_workers(SchedulingConfig(replicas=2, specs=[ContainerSpec(cpu=1, gpu=0, mem=1, cmd="w")]))
        self.arbiter.not_ready_answers = -1
        started = time.monotonic()
        with self.assertRaises(NotReadyError) as caught:
            scheduler.get_workers(timeout=0.3)
        elapsed = time.monotonic() - started
        self.assertGreaterEqual(elapsed, 0.3)
        self.assertLess(elapsed, 2.0)
        gets = self.arbiter.of("GET")
        self.assertGreaterEqual(len(gets), 3)
        self.assertTrue(all(int(g.query["timeoutMs"]) <= 100 for g in gets), [g.query for g in gets])
        err = caught.exception
        self.assertIsInstance(err, ArbiterError)
        self.assertEqual((err.status, err.code, err.ended), (408, "not_ready", False))
        self.assertEqual(err.details, [{"id": "expr/trial-0", "state": "queued", "why": "queued: waiting for 1 GPU"},
                                       {"id": "expr/trial-1", "state": "queued", "why": "queued: waiting for 1 GPU"}])
        self.assertIn("2 worker(s) not running yet", err.message)

    def test_get_workers_stops_at_once_when_a_replica_has_ended(self) -> None:
        scheduler = self.client()
        scheduler.create_workers(SchedulingConfig(replicas=2, specs=[ContainerSpec(cpu=1, gpu=0, mem=1, cmd="w")]))
        for state in ("failed", "exited", "stopped", "preempted"):
            self.arbiter.ended = state
            started = time.monotonic()
            with self.assertRaises(NotReadyError) as caught:
                scheduler.get_workers(timeout=300.0)
            self.assertLess(time.monotonic() - started, 1.0)
            self.assertTrue(caught.exception.ended)
            self.assertIn({"id": "expr/trial-1", "state": state, "why": "exited with code 1"}, caught.exception.details)
        self.assertEqual(len(self.arbiter.of("GET")), 4)

    def test_get_workers_does_not_retry_other_errors(self) -> None:
        with self.assertRaises(ArbiterError) as caught:
            self.client(wait_slice=0.05).get_workers(timeout=5.0, name="nobody/here")
        self.assertNotIsInstance(caught.exception, NotReadyError)
        self.assertEqual((caught.exception.status, caught.exception.code), (404, "not_found"))
        self.assertEqual(len(self.arbiter.requests), 1)
        self.assertEqual(self.arbiter.requests[0].query["name"], "nobody/here")

    # ------------------------------------------------------------------ delete_workers

    def test_delete_workers_url_encodes_the_group_name(self) -> None:
        scheduler = self.client()
        scheduler.create_workers(SchedulingConfig(replicas=1, specs=[ContainerSpec(cpu=1, gpu=0, mem=1, cmd="w")]))
        scheduler.create_workers(SchedulingConfig(name="other/g 1", replicas=1, specs=[ContainerSpec(cpu=1, gpu=0, mem=1, cmd="w")]))
        self.assertIsNone(scheduler.delete_workers())
        scheduler.delete_workers(name="other/g 1")
        self.assertEqual([(r.method, r.path) for r in self.arbiter.of("DELETE")],
                         [("DELETE", "/api/workers/expr%2Ftrial"), ("DELETE", "/api/workers/other%2Fg%201")])
        self.assertEqual(self.arbiter.groups, {})
        with self.assertRaises(ArbiterError) as caught:
            scheduler.delete_workers()
        self.assertEqual((caught.exception.status, caught.exception.code), (404, "not_found"))
        self.assertEqual(caught.exception.message, 'no worker group "expr/trial"')

    # ------------------------------------------------------------------ engines

    def test_create_engine_and_call_engine_with_args_and_kwargs(self) -> None:
        scheduler = self.client()
        w0, w1 = self.ready_group(scheduler)
        self.assertIsNone(scheduler.create_engine(w0.id, "echo_engine:EchoEngine", {"tag": "a"}))
        scheduler.create_engine(w1.id, "echo_engine:EchoEngine")
        engines = self.arbiter.of("POST")[1:]
        self.assertEqual([(r.path, r.body) for r in engines], [
            ("/api/workers/expr%2Ftrial-0/engine", {"engine": "echo_engine:EchoEngine", "init_config": {"tag": "a"}}),
            ("/api/workers/expr%2Ftrial-1/engine", {"engine": "echo_engine:EchoEngine"}),
        ])
        result = scheduler.call_engine(w0.id, "greet", "Ada", [1, 2], greeting="hi", method="m", worker_id="w")
        call = self.arbiter.requests[-1]
        self.assertEqual(call.path, "/api/workers/expr%2Ftrial-0/call")
        self.assertEqual(call.body, {"method": "greet", "args": ["Ada", [1, 2]],
                                     "kwargs": {"greeting": "hi", "method": "m", "worker_id": "w"}})
        self.assertEqual(result, {"method": "greet", "args": ["Ada", [1, 2]],
                                  "kwargs": {"greeting": "hi", "method": "m", "worker_id": "w"}})
        scheduler.call_engine(w1.id, "info")
        self.assertEqual(self.arbiter.requests[-1].body, {"method": "info", "args": [], "kwargs": {}})

    def test_an_engine_exception_is_a_RemoteEngineError_with_its_remote_type_and_stack(self) -> None:
        scheduler = self.client()
        w0, _ = self.ready_group(scheduler)
        scheduler.create_engine(w0.id, "echo_engine:EchoEngine")
        with self.assertRaises(RemoteEngineError) as caught:
            scheduler.call_engine(w0.id, "fail", "on purpose")
        err = caught.exception
        self.assertIsInstance(err, ArbiterError)
        self.assertEqual((err.status, err.code, err.message, err.remote_type), (502, "engine_error", "on purpose", "EchoError"))
        self.assertIn('line 58, in fail', err.remote_stack)
        self.assertEqual(err.details, {"remote_type": "EchoError", "remote_stack": err.remote_stack})
        self.assertIn("EchoError: on purpose", str(err))
        again = pickle.loads(pickle.dumps(err))
        self.assertEqual((type(again), again.remote_type, again.remote_stack, again.message),
                         (RemoteEngineError, err.remote_type, err.remote_stack, err.message))

    # ------------------------------------------------------------------ errors

    def test_errors_carry_status_code_message_and_details(self) -> None:
        scheduler = self.client()
        one = SchedulingConfig(replicas=1, specs=[ContainerSpec(cpu=1, gpu=0, mem=1, cmd="w")])
        scheduler.create_workers(one)
        cases = [
            (lambda: scheduler.create_workers(one), 409, "conflict", None),
            (lambda: scheduler.create_workers(SchedulingConfig(name="big", replicas=1, specs=[ContainerSpec(cpu=1, gpu=64, mem=1, cmd="w")])),
             422, "never_fits", None),
            (lambda: scheduler.create_workers(SchedulingConfig(name="bad", replicas=3, specs=[ContainerSpec(cmd="w")] * 2)),
             400, "invalid_input", [{"path": "body.specs", "message": "one spec for every replica or one per replica"}]),
            (lambda: scheduler.call_engine("expr/trial-0", "add", 1, 2), 409, "no_engine", None),
            (lambda: scheduler.create_engine("nobody-0", "m:C"), 404, "not_found", None),
            (lambda: scheduler.call_engine("text-error", "add"), 503, "http_error", None),
        ]
        for call, status, code, details in cases:
            with self.subTest(code=code):
                with self.assertRaises(ArbiterError) as caught:
                    call()
                err = caught.exception
                self.assertEqual((type(err), err.status, err.code, err.details), (ArbiterError, status, code, details))
                self.assertTrue(err.message)
                self.assertIn("[{} {}]".format(status, code), str(err))
        self.assertIn("HTTP 503", caught.exception.message)

    def test_an_unreachable_endpoint_is_an_ArbiterConnectionError(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        scheduler = make_scheduler(dict(CONFIG, endpoint="http://127.0.0.1:{}".format(port)))
        with self.assertRaises(ArbiterConnectionError) as caught:
            scheduler.get_workers(timeout=300.0)
        err = caught.exception
        self.assertIsInstance(err, ConnectionError)
        self.assertIsInstance(err, ArbiterError)
        self.assertEqual((err.status, err.code), (None, "unreachable"))
        self.assertIn("127.0.0.1:{}".format(port), str(err))
        self.assertIn("not reachable", str(err))

    def test_no_answer_within_the_timeout_is_an_ArbiterConnectionError(self) -> None:
        scheduler = self.client(call_timeout=0.2)
        w0, _ = self.ready_group(scheduler)
        scheduler.create_engine(w0.id, "echo_engine:EchoEngine")
        with self.assertRaises(ArbiterConnectionError) as caught:
            scheduler.call_engine(w0.id, "slow")
        self.assertEqual((caught.exception.status, caught.exception.code), (None, "timeout"))
        self.assertIn("within 0.2 s", caught.exception.message)

    # ------------------------------------------------------------------ config

    def test_the_config_is_checked(self) -> None:
        good = dict(CONFIG, endpoint="http://127.0.0.1:7070")
        scheduler = make_scheduler(good)
        self.assertEqual((scheduler.group, scheduler.endpoint, scheduler.wait_slice), ("expr/trial", "http://127.0.0.1:7070", 30.0))
        for bad in (dict(good, type="local"), {k: v for k, v in good.items() if k != "type"}, "arbiter"):
            with self.subTest(bad=bad), self.assertRaisesRegex(ValueError, "arbiter"):
                make_scheduler(bad)  # type: ignore[arg-type]
        for bad, field in ((dict(good, type="slurm"), "type"), ({k: v for k, v in good.items() if k != "endpoint"}, "endpoint"),
                           (dict(good, trial_name=""), "trial_name"), (dict(good, endpoint="127.0.0.1:7070"), "endpoint")):
            with self.subTest(bad=bad), self.assertRaisesRegex(ValueError, field):
                Scheduler(bad)
        for option in ({"wait_slice": 0}, {"wait_slice": 3601}, {"http_timeout": 0}, {"call_timeout": -1}):
            with self.subTest(option=option), self.assertRaisesRegex(ValueError, next(iter(option))):
                Scheduler(good, **option)

    # ------------------------------------------------------------------ the example

    def test_the_example_runs_against_the_stand_in(self) -> None:
        spec = importlib.util.spec_from_file_location("train_example", os.path.join(ROOT, "examples", "workers", "train.py"))
        assert spec is not None and spec.loader is not None
        train = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(train)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = train.main(["--endpoint", self.arbiter.url, "--expr", "demo", "--trial", "t1", "--timeout", "5"])
        self.assertEqual(code, 0, out.getvalue())
        create = self.arbiter.requests[0].body
        self.assertEqual((create["name"], create["replicas"], create["specs"][0]["cmd"]), ("demo/t1", 2, "python3 -m arbiter_worker"))
        pythonpath = create["specs"][0]["env_vars"]["PYTHONPATH"].split(os.pathsep)
        self.assertIn(os.path.join(ROOT, "clients", "python"), pythonpath)
        self.assertIn(os.path.join(ROOT, "examples", "workers"), pythonpath)
        engines = [r.body["engine"] for r in self.arbiter.requests if r.path.endswith("/engine")]
        self.assertEqual(engines, ["echo_engine:EchoEngine"] * 2)
        self.assertEqual(self.arbiter.requests[-1].method, "DELETE")
        self.assertIn("EchoError", out.getvalue())


if __name__ == "__main__":
    unittest.main()
