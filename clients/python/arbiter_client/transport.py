"""One JSON request to Arbiter over urllib, and its answer or the exception that Arbiter's error body names."""
import http.client
import json
import socket
import urllib.error
import urllib.request
from typing import Any, Optional, Tuple

from .errors import ArbiterConnectionError, ArbiterError, NotReadyError, RemoteEngineError


def request_json(method: str, url: str, body: Any = None, token: Optional[str] = None, timeout: float = 60.0) -> Any:
    """Send ``body`` (JSON, when not None) and return the parsed answer of a 2xx.

    Raises :class:`NotReadyError`, :class:`RemoteEngineError` or :class:`ArbiterError` for an error answer, and
    :class:`ArbiterConnectionError` when no answer came within ``timeout`` seconds (or none at all).
    """
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    data = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode("utf-8")
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    status, raw = _exchange(req, timeout)
    parsed = _parse(raw)
    if 200 <= status < 300:
        return parsed
    raise error_of(status, parsed, "{} {}: HTTP {}".format(method, url, status))


def _exchange(req: urllib.request.Request, timeout: float) -> Tuple[int, bytes]:
    what = "{} {}".format(req.get_method(), req.full_url)
    try:
        try:
            with urllib.request.urlopen(req, timeout=timeout) as res:
                return res.status, res.read()
        except urllib.error.HTTPError as err:
            # an answer, with an error status: its body says why
            with err:
                return err.code, err.read()
    except urllib.error.URLError as err:
        raise _no_answer(what, err.reason, timeout) from err
    except (OSError, http.client.HTTPException) as err:
        raise _no_answer(what, err, timeout) from err


def _no_answer(what: str, reason: Any, timeout: float) -> ArbiterConnectionError:
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return ArbiterConnectionError(None, "timeout", "{}: no answer from Arbiter within {:g} s".format(what, timeout))
    return ArbiterConnectionError(None, "unreachable", "{}: Arbiter is not reachable ({})".format(what, reason))


def _parse(raw: bytes) -> Any:
    text = raw.decode("utf-8", errors="replace")
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def error_of(status: int, parsed: Any, fallback: str) -> ArbiterError:
    """The exception of an error answer ``{error: {code, message, details?}}`` (or of a body that is not one)."""
    e = parsed.get("error") if isinstance(parsed, dict) else None
    if not isinstance(e, dict):
        e = {}
    code = e.get("code") if isinstance(e.get("code"), str) else None
    message = e.get("message") if isinstance(e.get("message"), str) else fallback
    if code == "engine_error" and "remote_type" in e:
        return RemoteEngineError(str(e["remote_type"]), str(e.get("remote_stack") or ""), message)
    if code == "not_ready":
        return NotReadyError(status, code, message, e.get("details"))
    return ArbiterError(status, code or "http_error", message, e.get("details"))
