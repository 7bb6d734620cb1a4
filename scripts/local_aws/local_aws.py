#!/usr/bin/env python3
"""A local AWS (S3, STS, SSM) for sync-to-s3's tests and demo: moto's server with fault injection.

It serves moto's whole server application (the same one ``moto_server`` runs) on 127.0.0.1 behind a
small WSGI middleware that can make chosen requests fail the way AWS fails, so that the Rust
function's retries, timeouts and partial-failure handling can be tested end to end.

Usage::

    .venv/bin/python scripts/local_aws/local_aws.py [--port N] [--verbose]

It prints exactly one line, ``PORT <n>``, to stdout once it is listening, and nothing else ever goes
to stdout (logs go to stderr, and only warnings unless ``--verbose``). It exits with status 0 on
SIGTERM or SIGINT, and when its stdin reaches end of file, if stdin is a pipe or a socket: spawn it
with a pipe on stdin (``Stdio::piped()``, ``subprocess.PIPE``) and it goes away when the test that
spawned it dies, even by SIGKILL. With stdin on /dev/null, a file or a terminal it does not watch
stdin (so ``local_aws.py &`` from a script keeps running).

Point clients at it with ``AWS_ENDPOINT_URL=http://127.0.0.1:<n>``, ``AWS_ACCESS_KEY_ID=testing``,
``AWS_SECRET_ACCESS_KEY=testing``, ``AWS_REGION=us-east-1`` and path-style S3 addressing.
moto's own API is there too (``GET /moto-api/data.json`` lists e.g. ``sts.AssumedRole[]`` with
``external_id``); ``/moto-api/`` requests are never faulted nor logged.

Fault control API (JSON in and out, answered here, never passed to moto):

``POST /_fault/add``
    ``{"service": "s3"|"sts"|"ssm"|"any", "method": "PUT"|"GET"|"POST"|...|"any",
    "path_regex": ".*", "target": "AssumeRole", "action": "error"|"delay"|"stall"|"reset",
    "status": 503, "code": "SlowDown", "message": "Please reduce your request rate.",
    "times": 2, "delay_ms": 0}`` → ``{"id": n}``. Every key but ``action`` is optional; the
    defaults are the values shown, with ``service`` and ``method`` ``any``, ``times`` 1 (-1 means
    forever) and no ``target``. ``path_regex`` is matched with ``re.search`` against the decoded
    path plus ``?`` and the raw query string, if any (``/bucket/key?x-id=PutObject``). ``target``
    is a substring of the ``X-Amz-Target`` header (``AmazonSSM.GetParameter``) or of the query
    protocol's ``Action`` (``AssumeRole``); a rule with a target never matches a request that has
    neither (S3). Rules are tried in the order they were added; the first matching rule that has
    times left fires, and its count goes down by one.

    - ``error``: answer at once with the service's own error format (S3: XML ``<Error>`` with
      ``x-amz-request-id``; STS: query-protocol ``<ErrorResponse>``; SSM: awsJson1_1
      ``{"__type", "message"}`` with ``x-amzn-ErrorType``), after reading the whole request body.
    - ``delay``: wait ``delay_ms``, then pass the request on to moto.
    - ``stall``: wait ``delay_ms`` (e.g. 60000), then answer with the error; a client with a
      shorter timeout gives up first, as against a hung server.
    - ``reset``: abort the TCP connection without any response. The middleware sets
      ``SO_LINGER`` to 0 on ``environ["werkzeug.socket"]``, shuts its read side down and closes
      it, then raises ``ConnectionResetError`` so that werkzeug drops the request quietly: once
      werkzeug lets go of the socket the kernel sends an RST, and the client sees "connection
      reset by peer" (checked by scripts/local_aws/test_local_aws.py). Without ``werkzeug.socket`` (another
      WSGI server) it only raises, and the server closes the connection without an answer.

``POST /_fault/clear``
    removes every rule → ``{"cleared": n}``.
``GET /_fault/rules``
    the rules, with the times they have left and how often each fired.
``GET /_fault/log``
    every AWS request seen since start or the last reset-log, in arrival order:
    ``[{"service", "method", "path", "target", "status", "fault", "rule", "client_port"}]`` where
    ``fault`` is the rule's action (or null), ``status`` the HTTP status sent (null for ``reset``,
    or while the answer is pending) and ``client_port`` the client's TCP port (with
    ``--keep-alive``, requests on one connection share it).
``POST /_fault/reset-log``
    empties the log.

The service of a request is the one in its SigV4 credential scope (``Authorization`` header or a
presigned URL's ``X-Amz-Credential``), else ``ssm`` for an ``X-Amz-Target`` of ``AmazonSSM.*``,
else ``sts`` for a query-protocol request whose ``Action`` is an STS one, else ``s3``.

Request bodies are read in full (``Content-Length`` or chunked ``Transfer-Encoding``, which
werkzeug de-chunks) before anything else, then handed on to moto as a plain body with a
``Content-Length``; ``aws-chunked`` content encoding (SDK streaming checksums) is left to moto.

Tested with moto 5.2.5, Werkzeug 3.1.9 and Flask 3.1.3 (scripts/requirements.txt).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import logging
import os
import re
import selectors
import socket
import struct
import sys
import threading
import types
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape as xml_escape

WSGIEnviron = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[WSGIEnviron, StartResponse], Iterable[bytes]]

HOST = "127.0.0.1"
SERVICES = ("s3", "sts", "ssm")
ACTIONS = ("error", "delay", "stall", "reset")
# Query-protocol actions that belong to STS (moto routes unsigned ones by the same idea).
STS_ACTIONS = frozenset(
    {
        "AssumeRole",
        "AssumeRoleWithSAML",
        "AssumeRoleWithWebIdentity",
        "AssumeRoot",
        "DecodeAuthorizationMessage",
        "GetAccessKeyInfo",
        "GetCallerIdentity",
        "GetDelegatedAccessToken",
        "GetFederationToken",
        "GetSessionToken",
    }
)
STS_VERSION = "2011-06-15"
CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/,\s]+/([^/,\s]+)/aws4_request")

import stdin_watch  # noqa: E402 - beside this file

log = logging.getLogger("local_aws")


# --------------------------------------------------------------------------------------------
# Rules and the request log
# --------------------------------------------------------------------------------------------


class RuleError(ValueError):
    """A /_fault/add body that does not describe a rule."""


@dataclass
class Rule:
    id: int
    action: str
    service: str = "any"
    method: str = "ANY"
    path_regex: str = ".*"
    target: str | None = None
    status: int = 503
    code: str = "SlowDown"
    message: str = "Please reduce your request rate."
    times: int = 1
    delay_ms: int = 0
    fired: int = 0
    path_re: re.Pattern[str] = field(default=re.compile(".*"), repr=False)

    @classmethod
    def from_json(cls, rule_id: int, doc: Any) -> Rule:
        if not isinstance(doc, dict):
            raise RuleError("the body must be a JSON object")
        known = {
            "service",
            "method",
            "path_regex",
            "target",
            "action",
            "status",
            "code",
            "message",
            "times",
            "delay_ms",
        }
        unknown = sorted(set(doc) - known)
        if unknown:
            raise RuleError(f"unknown key(s): {', '.join(unknown)}")

        def text(key: str, default: str | None) -> str | None:
            value = doc.get(key, default)
            if value is not None and not isinstance(value, str):
                raise RuleError(f"{key} must be a string")
            return value

        def integer(key: str, default: int, low: int, high: int) -> int:
            value = doc.get(key, default)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise RuleError(f"{key} must be an integer from {low} to {high}")
            return value

        action = text("action", None)
        if action not in ACTIONS:
            raise RuleError(f"action must be one of {', '.join(ACTIONS)}")
        service = (text("service", "any") or "any").lower()
        method = (text("method", "any") or "any").upper()
        path_regex = text("path_regex", ".*") or ".*"
        try:
            path_re = re.compile(path_regex)
        except re.error as exc:
            raise RuleError(f"path_regex does not compile: {exc}") from None
        return cls(
            id=rule_id,
            action=action,
            service=service,
            method=method,
            path_regex=path_regex,
            target=text("target", None) or None,
            status=integer("status", 503, 100, 599),
            code=text("code", "SlowDown") or "SlowDown",
            message=text("message", "Please reduce your request rate.") or "",
            times=integer("times", 1, -1, 2**31),
            delay_ms=integer("delay_ms", 0, 0, 3_600_000),
            path_re=path_re,
        )

    def matches(self, service: str, method: str, path: str, target: str | None) -> bool:
        if self.times == 0:
            return False
        if self.service != "any" and self.service != service:
            return False
        if self.method != "ANY" and self.method != method:
            return False
        if self.target is not None and (target is None or self.target not in target):
            return False
        return self.path_re.search(path) is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "service": self.service,
            "method": "any" if self.method == "ANY" else self.method,
            "path_regex": self.path_regex,
            "target": self.target,
            "action": self.action,
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "times": self.times,
            "delay_ms": self.delay_ms,
            "fired": self.fired,
        }


class FaultState:
    """The rules and the request log, shared by every request thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        self._next_id = 1
        self._log: list[dict[str, Any]] = []

    def add(self, doc: Any) -> Rule:
        with self._lock:
            rule = Rule.from_json(self._next_id, doc)
            self._next_id += 1
            self._rules.append(rule)
            return rule

    def clear(self) -> int:
        with self._lock:
            count = len(self._rules)
            self._rules.clear()
            return count

    def rules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.to_json() for rule in self._rules]

    def fire(self, service: str, method: str, path: str, target: str | None) -> Rule | None:
        """The first rule that matches and has times left, after counting this use of it."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(service, method, path, target):
                    if rule.times > 0:
                        rule.times -= 1
                    rule.fired += 1
                    return rule
            return None

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._log.append(entry)

    def set_status(self, entry: dict[str, Any], status: int | None) -> None:
        with self._lock:
            entry["status"] = status

    def log_entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(entry) for entry in self._log]

    def reset_log(self) -> None:
        with self._lock:
            self._log.clear()


# --------------------------------------------------------------------------------------------
# Request inspection
# --------------------------------------------------------------------------------------------


def buffer_body(environ: WSGIEnviron) -> bytes:
    """Read the whole request body and put it back as a plain, length-delimited body.

    werkzeug gives a ``Transfer-Encoding: chunked`` body already de-chunked, flagged with
    ``wsgi.input_terminated``, and without ``CONTENT_LENGTH``; it is read to its end here.
    """
    stream = environ.get("wsgi.input")
    chunks: list[bytes] = []
    if stream is not None:
        if environ.get("wsgi.input_terminated"):
            while True:
                chunk = stream.read(1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
        else:
            try:
                remaining = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                remaining = 0
            while remaining > 0:
                chunk = stream.read(min(remaining, 1 << 16))
                if not chunk:
                    break
                chunks.append(chunk)
                remaining -= len(chunk)
    body = b"".join(chunks)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    # The body is now an ordinary one with a length: moto must not try to de-chunk it again.
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    environ.pop("wsgi.input_terminated", None)
    return body


def decoded_path(environ: WSGIEnviron) -> str:
    """The request path as text (WSGI keeps it as latin-1 of the raw bytes), plus the query."""
    raw = environ.get("PATH_INFO", "") or ""
    try:
        path = raw.encode("latin-1").decode("utf-8", "replace")
    except UnicodeEncodeError:
        path = raw
    query = environ.get("QUERY_STRING", "") or ""
    return f"{path}?{query}" if query else path


def query_params(environ: WSGIEnviron, body: bytes) -> dict[str, list[str]]:
    """Query-protocol parameters: the form body if there is one, then the query string."""
    params: dict[str, list[str]] = {}
    content_type = environ.get("CONTENT_TYPE", "") or ""
    if body and content_type.lower().startswith("application/x-www-form-urlencoded"):
        params.update(parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True))
    for key, values in parse_qs(environ.get("QUERY_STRING", "") or "").items():
        params.setdefault(key, values)
    return params


def detect_target(environ: WSGIEnviron, params: dict[str, list[str]]) -> str | None:
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return str(target)
    action = params.get("Action")
    return action[0] if action else None


def detect_service(environ: WSGIEnviron, params: dict[str, list[str]]) -> str:
    for scope in (environ.get("HTTP_AUTHORIZATION"), *params.get("X-Amz-Credential", [])):
        if scope:
            text = scope if "Credential=" in scope else f"Credential={scope}"
            found = CREDENTIAL_SCOPE.search(text)
            if found:
                return found.group(1).lower()
    target = environ.get("HTTP_X_AMZ_TARGET") or ""
    if target.startswith("AmazonSSM."):
        return "ssm"
    action = (params.get("Action") or [""])[0]
    if action in STS_ACTIONS or (params.get("Version") or [""])[0] == STS_VERSION:
        return "sts"
    return "s3"


def wire_protocol(service: str, environ: WSGIEnviron, params: dict[str, list[str]]) -> str:
    """How errors are written for this request: rest-xml (S3), query (STS) or json (SSM)."""
    if service == "s3":
        return "rest-xml"
    if service == "sts":
        return "query"
    if service == "ssm" or environ.get("HTTP_X_AMZ_TARGET"):
        return "json"
    return "query" if params.get("Action") else "rest-xml"


# --------------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------------


def status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


def respond(
    start_response: StartResponse,
    status: int,
    headers: list[tuple[str, str]],
    body: bytes,
    method: str = "GET",
) -> list[bytes]:
    if method == "HEAD":  # a HEAD answer has headers only; werkzeug would send a body as given
        body = b""
    start_response(status_line(status), [*headers, ("Content-Length", str(len(body)))])
    return [body]


def respond_json(start_response: StartResponse, status: int, doc: Any) -> list[bytes]:
    body = json.dumps(doc).encode()
    return respond(start_response, status, [("Content-Type", "application/json")], body)


def error_response(
    start_response: StartResponse, rule: Rule, protocol: str, method: str
) -> list[bytes]:
    request_id = str(uuid.uuid4())
    code, message = xml_escape(rule.code), xml_escape(rule.message)
    if protocol == "json":
        body = json.dumps({"__type": rule.code, "message": rule.message}).encode()
        headers = [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("x-amzn-ErrorType", rule.code),
            ("x-amzn-RequestId", request_id),
        ]
    elif protocol == "query":
        body = (
            f'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/{STS_VERSION}/">'
            f"<Error><Type>{'Receiver' if rule.status >= 500 else 'Sender'}</Type>"
            f"<Code>{code}</Code><Message>{message}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    else:
        s3_request_id = uuid.uuid4().hex[:16].upper()
        host_id = base64.b64encode(os.urandom(48)).decode()
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message>"
            f"<RequestId>{s3_request_id}</RequestId><HostId>{host_id}</HostId></Error>"
        ).encode()
        headers = [
            ("Content-Type", "application/xml"),
            ("x-amz-request-id", s3_request_id),
            ("x-amz-id-2", host_id),
        ]
    return respond(start_response, rule.status, headers, body, method)


def abort_connection(environ: WSGIEnviron) -> None:
    """Make the client see a TCP reset instead of an answer (see the module docstring)."""
    sock = environ.get("werkzeug.socket")
    if isinstance(sock, socket.socket):
        try:
            # Linger 0: the final close sends RST instead of FIN.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            # No more reads: werkzeug's keep-alive loop sees EOF and lets go of the connection
            # at once (close() alone is deferred while werkzeug's rfile/wfile still hold it).
            sock.shutdown(socket.SHUT_RD)
            sock.close()
        except OSError:
            pass
    # werkzeug treats ConnectionError from the application as a dropped connection: no answer,
    # no traceback in the log.
    raise ConnectionResetError("fault injection: connection reset")


# --------------------------------------------------------------------------------------------
# The middleware
# --------------------------------------------------------------------------------------------


class FaultInjector:
    """WSGI middleware: the /_fault/ control API, the request log and the faults themselves."""

    def __init__(self, app: WSGIApp, stopping: threading.Event | None = None) -> None:
        self.app = app
        self.state = FaultState()
        self.stopping = stopping or threading.Event()

    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        body = buffer_body(environ)
        path_info = environ.get("PATH_INFO", "") or ""
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        if path_info.startswith("/_fault/"):
            return self.control(path_info, method, body, start_response)
        if path_info.startswith("/moto-api") or path_info == "/favicon.ico":
            return self.app(environ, start_response)

        params = query_params(environ, body)
        service = detect_service(environ, params)
        target = detect_target(environ, params)
        path = decoded_path(environ)
        rule = self.state.fire(service, method, path, target)
        entry: dict[str, Any] = {
            "service": service,
            "method": method,
            "path": path,
            "target": target,
            "status": None,
            "fault": rule.action if rule else None,
            "rule": rule.id if rule else None,
            # The client's port: requests sharing one are on one kept-alive connection.
            "client_port": environ.get("REMOTE_PORT"),
        }
        self.state.record(entry)

        if rule is not None:
            if rule.action in ("delay", "stall") and rule.delay_ms:
                self.stopping.wait(rule.delay_ms / 1000)
            if rule.action == "reset":
                abort_connection(environ)
            if rule.action in ("error", "stall"):
                self.state.set_status(entry, rule.status)
                protocol = wire_protocol(service, environ, params)
                return error_response(start_response, rule, protocol, method)

        def recording_start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            try:
                self.state.set_status(entry, int(status.split(None, 1)[0]))
            except ValueError:
                pass
            return start_response(status, headers, exc_info)

        return self.app(environ, recording_start_response)

    def control(
        self, path: str, method: str, body: bytes, start_response: StartResponse
    ) -> list[bytes]:
        routes: dict[tuple[str, str], Callable[[], tuple[int, Any]]] = {
            ("POST", "/_fault/add"): lambda: self._add(body),
            ("POST", "/_fault/clear"): lambda: (200, {"cleared": self.state.clear()}),
            ("GET", "/_fault/rules"): lambda: (200, self.state.rules()),
            ("GET", "/_fault/log"): lambda: (200, self.state.log_entries()),
            ("POST", "/_fault/reset-log"): self._reset_log,
        }
        handler = routes.get((method, path.rstrip("/")))
        if handler is None:
            allowed = [m for (m, p) in routes if p == path.rstrip("/")]
            if allowed:
                return respond_json(start_response, 405, {"error": f"use {allowed[0]}"})
            return respond_json(start_response, 404, {"error": f"no such endpoint: {path}"})
        status, doc = handler()
        return respond_json(start_response, status, doc)

    def _add(self, body: bytes) -> tuple[int, Any]:
        try:
            doc = json.loads(body.decode("utf-8")) if body.strip() else {}
            rule = self.state.add(doc)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return 400, {"error": f"body is not JSON: {exc}"}
        except RuleError as exc:
            return 400, {"error": str(exc)}
        log.info("fault rule %d added: %s", rule.id, rule.to_json())
        return 200, {"id": rule.id}

    def _reset_log(self) -> tuple[int, Any]:
        self.state.reset_log()
        return 200, {"ok": True}


# --------------------------------------------------------------------------------------------
# Process plumbing
# --------------------------------------------------------------------------------------------


def allow_keep_alive() -> None:
    """Stop werkzeug from draining the socket after each response.

    werkzeug (3.x) reads whatever is left on the socket once a response is sent, so that a
    client that sent too much sees the answer rather than a reset; it can, because it closes
    every connection. With keep-alive that read would swallow (or wait for) the next request.
    FaultInjector has already read every request body whole (buffer_body), so there is never
    anything to drain: the drain finds no data here.
    """
    import werkzeug.serving

    class NoDrain:
        def register(self, *_args: Any, **_kwargs: Any) -> None:
            pass

        def select(self, timeout: float | None = None) -> list[Any]:
            return []

        def close(self) -> None:
            pass

    werkzeug.serving.selectors = types.SimpleNamespace(  # type: ignore[attr-defined]
        DefaultSelector=NoDrain, EVENT_READ=selectors.EVENT_READ
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free one)")
    parser.add_argument("--verbose", action="store_true", help="log each request to stderr")
    parser.add_argument(
        "--keep-alive",
        action="store_true",
        help="keep connections open between requests, as S3 does (werkzeug closes each one)",
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="with keep-alive (implied), close a connection idle this long, as S3 does after "
        "about 20 s (default: never)",
    )
    args = parser.parse_args(argv)

    # Only the PORT line may reach stdout: keep the real stdout aside and send fd 1 (and anything
    # moto or a library might print) to stderr from here on.
    real_stdout = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO if args.verbose else logging.WARNING,
        format="local_aws: %(levelname)s %(name)s: %(message)s",
    )

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    keep_alive = args.keep_alive or args.idle_timeout is not None
    if keep_alive:
        allow_keep_alive()

    class RequestHandler(MotoRequestHandler):
        protocol_version = "HTTP/1.1"
        # werkzeug writes headers and body in separate sends: with Nagle on, a kept-alive
        # connection waits for the client's delayed ACK (about 40 ms) on every response.
        disable_nagle_algorithm = True
        # socketserver applies it to each connection: a read that waits longer closes it.
        timeout = args.idle_timeout

        def send_header(self, keyword: str, value: str) -> None:
            # werkzeug always answers "Connection: close" because http.server does not drain
            # an unread request body before the next request line. FaultInjector reads every
            # body whole (buffer_body), so keeping the connection is safe here; a client that
            # asks for close still gets it.
            if (
                keep_alive
                and keyword.lower() == "connection"
                and value.lower() == "close"
                and (self.headers.get("Connection") or "").lower() != "close"
            ):
                value = "keep-alive"
            super().send_header(keyword, value)

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            if args.verbose:
                super().log_request(code, size)

    stopping = threading.Event()
    app = FaultInjector(DomainDispatcherApplication(create_backend_app), stopping)
    server = make_server(HOST, args.port, app, threaded=True, request_handler=RequestHandler)
    port = int(server.port)
    os.environ["MOTO_PORT"] = str(port)  # moto uses it when it calls itself

    def serve() -> None:
        try:
            server.serve_forever(poll_interval=0.2)
        finally:
            stopping.set()

    threading.Thread(target=serve, name="serve", daemon=True).start()
    stdin_watch.run_until_stopped(stopping, log, real_stdout, port)
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    code = main()
    sys.stderr.flush()
    # Request threads are daemons; a stalled one must not hold the exit up.
    os._exit(code)
