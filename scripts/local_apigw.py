#!/usr/bin/env python3
"""A local stand-in for an API Gateway HTTP API in front of sync-to-s3, for tests with real clients.

It reads the SAM template, serves the HTTP API's routes on 127.0.0.1 and hands every matching
request to the function binary as API Gateway does: as a payload format 2.0 event, through a Lambda
Runtime API that it serves itself on a second 127.0.0.1 port, to one execution environment (the
binary, started as a child process the way Lambda starts a ``provided.al2023`` bootstrap).

Usage::

    .venv/bin/python scripts/local_apigw.py --function target/debug/sync-to-s3 \\
        [--template template.yaml] [--parameter Name=Value ...] [--env NAME=VALUE ...] \\
        [--log FUNCTION_LOG] [--access-log JSONL] [--port N] [--verbose]
    .venv/bin/python scripts/local_apigw.py --self-test

It prints exactly one line, ``PORT <n>``, to stdout once it is listening, and nothing else ever goes
to stdout. It exits with status 0 on SIGTERM or SIGINT, and when its stdin reaches end of file, if
stdin is a pipe or a socket (spawn it with ``subprocess.PIPE`` on stdin and it goes away with the
test that started it, even after SIGKILL), as scripts/local_aws/local_aws.py does. The function process is
killed when the stand-in stops.

What it takes from the template (read with cfn-lint's YAML loader, so ``!Ref``, ``!Sub``, ``!If``,
``!Split``, ``!Join``, ``!Select`` and ``!Equals``/``!Not``/``!And``/``!Or`` conditions resolve;
``!Ref`` to a parameter gives ``--parameter`` or the parameter's ``Default``; a
``CommaDelimitedList`` parameter is a list):

- **Routes**: the ``Events`` of ``Type: HttpApi`` of the one ``AWS::Serverless::Function`` that
  has any (``--function-id`` picks one when several have): ``Path`` + ``Method`` (``ANY`` and
  ``x-amazon-apigateway-any-method`` match every method; ``{name}`` matches one path segment,
  ``{name+}`` one or more and must end the path; an event without Path and Method is the
  ``$default`` route). A request that matches no route gets API Gateway's own
  ``404 {"message":"Not Found"}``. Routes are ranked as API Gateway documents it ("Routing API
  requests"): an exact route and method first, then routes with path variables (the one with more
  literal segments, then the longer literal prefix, wins; a method beats ``ANY``), then greedy
  ``{proxy+}`` routes (longest prefix first), then ``$default``.
- **CORS**: ``CorsConfiguration`` of the ``AWS::Serverless::HttpApi`` the events name in
  ``ApiId`` (or of ``Globals.HttpApi`` for the implicit API). When it is set:

  - a preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) on any path is
    answered here and never reaches the function: ``204`` with no body; when the origin, the
    method and every header in ``Access-Control-Request-Headers`` are allowed (``*`` allows all;
    names compare case-insensitively) it carries ``Access-Control-Allow-Origin`` (``*`` when the
    configuration allows ``*`` without credentials, else the request's origin),
    ``-Allow-Methods``, ``-Allow-Headers`` (the configured lists, comma-joined),
    ``-Max-Age`` and ``-Allow-Credentials`` when configured; otherwise it carries no CORS header;
  - on every other response, the ``Access-Control-*`` headers the function sent are dropped, and
    when the request has an allowed ``Origin``, ``Access-Control-Allow-Origin`` (and
    ``-Allow-Credentials``, ``-Expose-Headers`` when configured) are added.

  Relied on: AWS's "Configure CORS for HTTP APIs" page ("API Gateway automatically sends a
  response to preflight OPTIONS requests, even if there isn't an OPTIONS route", "adds the
  configured CORS headers to the response from an integration", "ignores CORS headers returned
  from your backend integration", "your request must contain an origin header; for the OPTIONS
  method, an origin header and an Access-Control-Request-Method header"). The 204 status and the
  header-less 204 for a refused preflight are what HTTP APIs are observed to send; AWS's page
  does not spell them out. Without ``CorsConfiguration``, ``OPTIONS`` is routed like any method.
- **The function**: ``Timeout`` (the deadline handed to the function; on expiry the process is
  killed and restarted for the next request, as Lambda does), ``MemorySize``,
  ``Environment.Variables`` (with ``Globals.Function``), ``LoggingConfig`` (``LogFormat`` →
  ``AWS_LAMBDA_LOG_FORMAT``), and the event's ``TimeoutInMillis`` (integration timeout, default
  30000). Only payload format 2.0 is served.

The event is built as AWS builds payload format 2.0 (AWS's "Create AWS Lambda proxy integrations
for HTTP APIs" page): ``version``, ``routeKey``, ``rawPath``, ``rawQueryString``, ``cookies`` (the
``Cookie`` headers split at ``;``, taken out of ``headers``), ``headers`` (names lower-cased,
repeated headers joined with ``,``; ``x-forwarded-for``/``-port``/``-proto`` and
``x-amzn-trace-id`` added), ``queryStringParameters`` (repeated keys joined with ``,``),
``requestContext`` (``accountId``, ``apiId``, ``domainName``, ``domainPrefix``, ``http`` with
``method``, ``path``, ``protocol``, ``sourceIp``, ``userAgent``, a unique ``requestId``,
``routeKey``, ``stage`` ``$default``, ``time`` and ``timeEpoch``: when the request arrived, in
ms), ``pathParameters``, ``body`` and ``isBase64Encoded``. Keys with nothing in them are left
out, as AWS leaves them out. The body is base64-encoded (``isBase64Encoded: true``) when the
request has a ``Content-Encoding`` header or its ``Content-Type`` is not text: text is
``text/*``, ``application/json``, ``application/xml`` and ``application/javascript`` (with any
parameters); anything else, a missing ``Content-Type`` and
``application/x-www-form-urlencoded`` included, is binary. That split is the one measured against
AWS and reported in ministack's pull request 766; AWS's docs say only that binary bodies are
base64-encoded.

The function's answer becomes the HTTP response as API Gateway makes it: a JSON object with
``statusCode`` is a 2.0 response (``headers``, ``multiValueHeaders``, ``cookies`` →
``Set-Cookie``, ``body``, ``isBase64Encoded``); any other JSON value is the body of a ``200`` with
``Content-Type: application/json``. A function error (``/error``, a crash, an init failure, a
timeout) or an answer that is not JSON gives ``500 {"message":"Internal Server Error"}``; no
answer within the integration timeout gives ``503 {"message":"Service Unavailable"}`` (the
invocation goes on in the environment, as in Lambda). A body over 10 MB gives ``413
{"message":"Request Entity Too Large"}``, an event over Lambda's 6 MB invoke limit the same
(API Gateway's answer to that case is not documented). Every response carries
``apigw-requestid``.

One invocation runs at a time (one execution environment): concurrent requests wait in arrival
order, and their wait counts against their integration timeout.

The Runtime API (``AWS_LAMBDA_RUNTIME_API``): ``GET /2018-06-01/runtime/invocation/next`` (long
poll; ``Lambda-Runtime-Aws-Request-Id``, ``-Deadline-Ms``, ``-Invoked-Function-Arn``,
``-Trace-Id``), ``POST .../invocation/{id}/response`` and ``.../error`` (``202``), ``POST
/2018-06-01/runtime/init/error``. Chunked request bodies are accepted (streamed responses).

The function gets this process's environment, then the template's variables, then ``--env``, and
Lambda's own: ``AWS_LAMBDA_RUNTIME_API``, ``AWS_LAMBDA_FUNCTION_NAME``,
``AWS_LAMBDA_FUNCTION_MEMORY_SIZE``, ``AWS_LAMBDA_FUNCTION_VERSION``, ``AWS_LAMBDA_LOG_GROUP_NAME``,
``AWS_LAMBDA_LOG_STREAM_NAME``, ``AWS_LAMBDA_INITIALIZATION_TYPE``, ``AWS_REGION``,
``AWS_DEFAULT_REGION``, ``_HANDLER``, ``LAMBDA_TASK_ROOT``, ``TZ``. Its stdout and stderr are
appended to ``--log``.

``--access-log FILE`` appends one JSON line per HTTP request: ``{"time_ms", "method", "path",
"query", "status", "route", "origin", "acr_method", "acr_headers", "preflight", "invoked",
"request_id", "lambda_request_id", "outcome", "user_agent", "duration_ms",
"response_headers"}`` (``acr_*``: the preflight's Access-Control-Request-Method/-Headers); ``invoked`` tells whether the function saw the
request and ``outcome`` what it did (``response``, ``error``, ``timeout``, ``crash``,
``init-error``, ``integration-timeout``, or null).

``--self-test`` checks the routing, CORS, event and response rules above, then serves a small
Python stand-in function through the Runtime API end to end; it prints ``N passed, M failed``.
"""

from __future__ import annotations

import argparse
import base64
import fnmatch
import http.client
import json
import logging
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

HOST = "127.0.0.1"
ACCOUNT_ID = "123456789012"
API_ID = "local"
MAX_BODY = 10 * 1024 * 1024  # HTTP API payload limit
MAX_INVOKE_PAYLOAD = 6 * 1024 * 1024  # Lambda synchronous invoke limit
INIT_LIMIT_S = 10.0  # Lambda's init phase limit for on-demand functions
TEXT_TYPES = ("application/json", "application/xml", "application/javascript")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")

sys.path.insert(0, str(Path(__file__).resolve().parent / "local_aws"))
import stdin_watch  # noqa: E402 - scripts/local_aws/stdin_watch.py

log = logging.getLogger("local_apigw")


# --------------------------------------------------------------------------------------------
# The template
# --------------------------------------------------------------------------------------------


class TemplateError(ValueError):
    """The template does not describe something this stand-in can serve."""


NO_VALUE = object()  # AWS::NoValue: the key goes away


class Resolver:
    """Evaluates the intrinsic functions of a template with parameter values."""

    def __init__(
        self, template: dict[str, Any], overrides: dict[str, str], region: str = "us-east-1"
    ) -> None:
        self.template = template
        self.params: dict[str, Any] = {}
        declared = template.get("Parameters") or {}
        unknown = sorted(set(overrides) - set(declared))
        if unknown:
            raise TemplateError(f"no such template parameter(s): {', '.join(unknown)}")
        for name, spec in declared.items():
            spec = spec or {}
            if name in overrides:
                raw: Any = overrides[name]
            elif "Default" in spec:
                raw = spec["Default"]
            else:
                continue  # an error only if something uses it
            if spec.get("Type") == "CommaDelimitedList" or str(spec.get("Type", "")).startswith(
                "List<"
            ):
                raw = [item.strip() for item in str(raw).split(",")] if str(raw) != "" else []
            elif not isinstance(raw, str):
                raw = str(raw)
            self.params[name] = raw
        self.pseudo = {
            "AWS::Region": region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "local",
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{ACCOUNT_ID}:stack/local/0",
            "AWS::NotificationARNs": [],
        }
        self._conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            conditions = self.template.get("Conditions") or {}
            if name not in conditions:
                raise TemplateError(f"no such condition: {name}")
            self._conditions[name] = self._truth(conditions[name], f"Conditions.{name}")
        return self._conditions[name]

    def _truth(self, node: Any, where: str) -> bool:
        if isinstance(node, dict) and len(node) == 1:
            ((fn, arg),) = node.items()
            if fn == "Fn::Equals":
                a, b = (self.resolve(x, where) for x in arg)
                return str(a) == str(b)
            if fn == "Fn::Not":
                return not self._truth(arg[0], where)
            if fn == "Fn::And":
                return all(self._truth(x, where) for x in arg)
            if fn == "Fn::Or":
                return any(self._truth(x, where) for x in arg)
            if fn == "Condition":
                return self.condition(arg)
        value = self.resolve(node, where)
        if isinstance(value, bool):
            return value
        raise TemplateError(f"{where}: not a condition: {node!r}")

    def ref(self, name: str, where: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        declared = self.template.get("Parameters") or {}
        if name in declared:
            if name not in self.params:
                raise TemplateError(
                    f"{where}: parameter {name} has no Default: give --parameter {name}=VALUE"
                )
            return self.params[name]
        if name in (self.template.get("Resources") or {}):
            return name  # a resource's Ref: its logical id stands in for its physical id
        raise TemplateError(f"{where}: !Ref to unknown name {name}")

    def resolve(self, node: Any, where: str = "template") -> Any:
        if isinstance(node, list):
            out = [self.resolve(x, where) for x in node]
            return [x for x in out if x is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((fn, arg),) = node.items()
            if fn == "Ref":
                return self.ref(arg, where)
            if fn == "Fn::If":
                name, yes, no = arg
                return self.resolve(yes if self.condition(name) else no, where)
            if fn == "Fn::Sub":
                return self._sub(arg, where)
            if fn == "Fn::Join":
                delim, items = arg
                items = self.resolve(items, where)
                return str(delim).join(str(x) for x in items)
            if fn == "Fn::Split":
                delim, text = arg
                return str(self.resolve(text, where)).split(str(delim))
            if fn == "Fn::Select":
                index, items = arg
                return self.resolve(items, where)[int(self.resolve(index, where))]
            if fn in ("Fn::GetAtt", "Fn::ImportValue", "Fn::GetAZs", "Fn::Base64", "Fn::Cidr"):
                raise TemplateError(f"{where}: {fn} cannot be resolved locally")
        out = {}
        for key, value in node.items():
            resolved = self.resolve(value, f"{where}.{key}")
            if resolved is not NO_VALUE:
                out[key] = resolved
        return out

    def _sub(self, arg: Any, where: str) -> str:
        if isinstance(arg, list):
            text, variables = arg[0], self.resolve(arg[1], where)
        else:
            text, variables = arg, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name:
                raise TemplateError(f"{where}: ${{{name}}} (GetAtt) cannot be resolved locally")
            value = self.ref(name, where)
            return ",".join(value) if isinstance(value, list) else str(value)

        return re.sub(r"\$\{([^}]+)\}", replace, str(text))


@dataclass
class Route:
    method: str  # upper case, or ANY
    path: str  # as written, e.g. /v1/{proxy+}; "$default" for the default route
    key: str  # the routeKey, e.g. "POST /v1/{proxy+}"
    timeout_ms: int = 30000
    segments: list[str] = field(default_factory=list)
    greedy: bool = False
    is_default: bool = False

    @classmethod
    def make(cls, method: str | None, path: str | None, timeout_ms: int = 30000) -> Route:
        if method is None and path is None:
            return cls("ANY", "$default", "$default", timeout_ms, [], False, True)
        method = (method or "ANY").upper()
        if method == "X-AMAZON-APIGATEWAY-ANY-METHOD":
            method = "ANY"
        if method != "ANY" and method not in METHODS:
            raise TemplateError(f"route method {method!r} is not an HTTP method")
        path = path or "/"
        if path == "$default":
            return cls(method, "$default", "$default", timeout_ms, [], False, True)
        if not path.startswith("/"):
            raise TemplateError(f"route path {path!r} must start with /")
        segments = [s for s in path.split("/")[1:]]
        if segments == [""]:
            segments = []
        greedy = bool(segments) and re.fullmatch(r"\{[^{}/]+\+\}", segments[-1]) is not None
        for i, seg in enumerate(segments):
            if "+}" in seg and not (greedy and i == len(segments) - 1):
                raise TemplateError(f"route path {path!r}: a greedy variable must end the path")
        return cls(method, path, f"{method} {path}", timeout_ms, segments, greedy, False)

    def match(self, method: str, path_segments: list[str]) -> dict[str, str] | None:
        """Path parameters when this route takes the request, else None."""
        if self.is_default:
            return {}
        if self.method != "ANY" and self.method != method:
            return None
        fixed = self.segments[:-1] if self.greedy else self.segments
        if self.greedy:
            if len(path_segments) <= len(fixed):
                return None
        elif len(path_segments) != len(fixed):
            return None
        params: dict[str, str] = {}
        for want, got in zip(fixed, path_segments):
            var = re.fullmatch(r"\{([^{}/]+)\}", want)
            if var:
                if got == "":
                    return None
                params[var.group(1)] = got
            elif want != got:
                return None
        if self.greedy:
            name = self.segments[-1][1:-2]
            params[name] = "/".join(path_segments[len(fixed) :])
        return params

    def rank(self) -> tuple[int, ...]:
        """Sort key: smaller is preferred."""
        if self.is_default:
            return (3,)
        fixed = self.segments[:-1] if self.greedy else self.segments
        literal = [not re.fullmatch(r"\{[^{}/]+\}", s) for s in fixed]
        prefix = 0
        for lit in literal:
            if not lit:
                break
            prefix += 1
        any_method = 1 if self.method == "ANY" else 0
        if self.greedy:
            return (2, -len(fixed), -sum(literal), any_method)
        if all(literal):
            return (0, any_method)
        return (1, -sum(literal), -prefix, any_method)


@dataclass
class Cors:
    allow_origins: list[str] = field(default_factory=list)
    allow_methods: list[str] = field(default_factory=list)
    allow_headers: list[str] = field(default_factory=list)
    expose_headers: list[str] = field(default_factory=list)
    max_age: int | None = None
    allow_credentials: bool = False

    @classmethod
    def from_config(cls, doc: Any) -> Cors | None:
        if doc is None or doc is False:
            return None
        if doc is True:  # SAM's shorthand: allow every origin
            return cls(allow_origins=["*"], allow_methods=["*"], allow_headers=["*"])
        if isinstance(doc, str):
            return cls(allow_origins=[doc], allow_methods=["*"], allow_headers=["*"])
        if not isinstance(doc, dict):
            raise TemplateError(f"CorsConfiguration: unexpected value {doc!r}")
        known = {
            "AllowOrigins",
            "AllowMethods",
            "AllowHeaders",
            "ExposeHeaders",
            "MaxAge",
            "AllowCredentials",
        }
        unknown = sorted(set(doc) - known)
        if unknown:
            raise TemplateError(f"CorsConfiguration: unknown key(s) {', '.join(unknown)}")

        def strings(key: str) -> list[str]:
            value = doc.get(key, [])
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise TemplateError(f"CorsConfiguration.{key} must be a list of strings")
            return [v.strip() for v in value if v.strip()]

        max_age = doc.get("MaxAge")
        credentials = doc.get("AllowCredentials", False)
        return cls(
            allow_origins=strings("AllowOrigins"),
            allow_methods=[m.upper() for m in strings("AllowMethods")],
            allow_headers=[h.lower() for h in strings("AllowHeaders")],
            expose_headers=strings("ExposeHeaders"),
            max_age=int(max_age) if max_age is not None else None,
            allow_credentials=str(credentials).lower() == "true",
        )

    def origin_allowed(self, origin: str) -> bool:
        for allowed in self.allow_origins:
            if allowed == "*":
                return True
            if "*" in allowed:
                if fnmatch.fnmatchcase(origin.lower(), allowed.lower()):
                    return True
            elif allowed.lower().rstrip("/") == origin.lower().rstrip("/"):
                return True
        return False

    def allow_origin_value(self, origin: str) -> str:
        if "*" in self.allow_origins and not self.allow_credentials:
            return "*"
        return origin

    def preflight(
        self, origin: str, method: str, request_headers: str | None
    ) -> list[tuple[str, str]]:
        """The CORS headers of the answer to a preflight (none when it is refused)."""
        if not self.origin_allowed(origin):
            return []
        if "*" not in self.allow_methods and method.upper() not in self.allow_methods:
            return []
        wanted = [h.strip().lower() for h in (request_headers or "").split(",") if h.strip()]
        if "*" not in self.allow_headers and any(h not in self.allow_headers for h in wanted):
            return []
        headers = [("Access-Control-Allow-Origin", self.allow_origin_value(origin))]
        if self.allow_credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        if self.allow_methods:
            headers.append(("Access-Control-Allow-Methods", ",".join(self.allow_methods)))
        if self.allow_headers:
            headers.append(("Access-Control-Allow-Headers", ",".join(self.allow_headers)))
        if self.max_age is not None:
            headers.append(("Access-Control-Max-Age", str(self.max_age)))
        return headers

    def response(self, origin: str | None) -> list[tuple[str, str]]:
        """The CORS headers added to a non-preflight response."""
        if not origin or not self.origin_allowed(origin):
            return []
        headers = [("Access-Control-Allow-Origin", self.allow_origin_value(origin))]
        if self.allow_credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        if self.expose_headers:
            headers.append(("Access-Control-Expose-Headers", ",".join(self.expose_headers)))
        return headers


@dataclass
class FunctionSpec:
    logical_id: str
    name: str
    timeout_s: int = 3
    memory_mb: int = 128
    env: dict[str, str] = field(default_factory=dict)
    handler: str = "bootstrap"


@dataclass
class Api:
    routes: list[Route]
    cors: Cors | None
    function: FunctionSpec
    api_logical_id: str


def merged(globals_section: Any, props: Any) -> dict[str, Any]:
    """SAM's Globals merge for the keys this stand-in reads (maps merge, the rest override)."""
    out = dict(globals_section or {})
    for key, value in (props or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            inner = dict(out[key])
            for k2, v2 in value.items():
                if isinstance(v2, dict) and isinstance(inner.get(k2), dict):
                    inner[k2] = {**inner[k2], **v2}
                else:
                    inner[k2] = v2
            out[key] = inner
        else:
            out[key] = value
    return out


def load_api(
    template: dict[str, Any],
    overrides: dict[str, str],
    function_id: str | None = None,
    region: str = "us-east-1",
) -> Api:
    resolver = Resolver(template, overrides, region)
    resources = template.get("Resources") or {}
    globals_ = template.get("Globals") or {}
    candidates = []
    for logical_id, resource in resources.items():
        if (resource or {}).get("Type") != "AWS::Serverless::Function":
            continue
        events = ((resource.get("Properties") or {}).get("Events")) or {}
        if any((ev or {}).get("Type") == "HttpApi" for ev in events.values()):
            candidates.append(logical_id)
    if function_id is not None:
        if function_id not in candidates:
            raise TemplateError(f"{function_id} is not a function with HttpApi events")
        chosen = function_id
    elif len(candidates) == 1:
        chosen = candidates[0]
    elif not candidates:
        raise TemplateError("no AWS::Serverless::Function has an event of Type HttpApi")
    else:
        raise TemplateError(
            f"several functions have HttpApi events ({', '.join(candidates)}): give --function-id"
        )

    resource = resources[chosen]
    props = merged(globals_.get("Function"), resource.get("Properties"))
    routes: list[Route] = []
    api_ids: set[str] = set()
    for name, event in (props.get("Events") or {}).items():
        if (event or {}).get("Type") != "HttpApi":
            continue
        where = f"Resources.{chosen}.Events.{name}"
        ev = resolver.resolve(event.get("Properties") or {}, where)
        version = str(ev.get("PayloadFormatVersion", "2.0"))
        if version != "2.0":
            raise TemplateError(f"{where}: only PayloadFormatVersion 2.0 is served here")
        api_ids.add(str(ev.get("ApiId", "ServerlessHttpApi")))
        timeout_ms = int(ev.get("TimeoutInMillis", 30000))
        routes.append(Route.make(ev.get("Method"), ev.get("Path"), timeout_ms))
    if len(api_ids) != 1:
        raise TemplateError(
            f"{chosen}'s HttpApi events name several APIs ({', '.join(sorted(api_ids))})"
        )
    (api_id,) = api_ids
    cors_doc: Any = None
    api_props = merged(
        globals_.get("HttpApi"),
        (resources.get(api_id) or {}).get("Properties") if api_id in resources else {},
    )
    if api_id in resources and resources[api_id].get("Type") != "AWS::Serverless::HttpApi":
        raise TemplateError(f"ApiId {api_id} is not an AWS::Serverless::HttpApi")
    if "CorsConfiguration" in api_props:
        cors_doc = resolver.resolve(
            api_props["CorsConfiguration"], f"Resources.{api_id}.CorsConfiguration"
        )
    cors = Cors.from_config(cors_doc)

    env_doc = resolver.resolve(
        (props.get("Environment") or {}).get("Variables") or {},
        f"Resources.{chosen}.Environment.Variables",
    )
    env = {str(k): str(v) for k, v in env_doc.items()}
    logging_config = resolver.resolve(props.get("LoggingConfig") or {}, "LoggingConfig")
    if logging_config.get("LogFormat"):
        env.setdefault("AWS_LAMBDA_LOG_FORMAT", str(logging_config["LogFormat"]))
    if logging_config.get("ApplicationLogLevel"):
        env.setdefault("AWS_LAMBDA_LOG_LEVEL", str(logging_config["ApplicationLogLevel"]))
    name = str(resolver.resolve(props.get("FunctionName", f"local-{chosen}")))
    function = FunctionSpec(
        logical_id=chosen,
        name=name,
        timeout_s=int(resolver.resolve(props.get("Timeout", 3))),
        memory_mb=int(resolver.resolve(props.get("MemorySize", 128))),
        env=env,
        handler=str(resolver.resolve(props.get("Handler", "bootstrap"))),
    )
    return Api(routes, cors, function, api_id)


def find_route(routes: list[Route], method: str, raw_path: str) -> tuple[Route, dict[str, str]] | None:
    path = unquote(raw_path)
    segments = path.split("/")[1:] if path.startswith("/") else path.split("/")
    if segments == [""]:
        segments = []
    for route in sorted(routes, key=Route.rank):
        params = route.match(method, segments)
        if params is not None:
            return route, params
    return None


# --------------------------------------------------------------------------------------------
# Events and responses
# --------------------------------------------------------------------------------------------


def is_text(content_type: str | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media.startswith("text/") or media in TEXT_TYPES


def new_request_id() -> str:
    """An id shaped like API Gateway's (``JKJaXmPLvHcESHA=``)."""
    return base64.b64encode(secrets.token_bytes(10)).decode()


def trace_id(now_s: float) -> str:
    return f"Root=1-{int(now_s):08x}-{secrets.token_hex(12)}"


def build_event(
    *,
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
    local_port: int,
    route: Route,
    path_params: dict[str, str],
    request_id: str,
    arrival_ms: int,
) -> dict[str, Any]:
    raw_path, _, raw_query = target.partition("?")
    combined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        lname = name.lower()
        if lname == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        combined[lname] = f"{combined[lname]},{value}" if lname in combined else value
    combined.setdefault("x-amzn-trace-id", trace_id(arrival_ms / 1000))
    combined["x-forwarded-for"] = (
        f"{combined['x-forwarded-for']}, {source_ip}" if "x-forwarded-for" in combined else source_ip
    )
    combined["x-forwarded-port"] = str(local_port)
    combined["x-forwarded-proto"] = "http"
    host = combined.get("host", f"{HOST}:{local_port}")
    domain = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = combined
    if raw_query:
        params: dict[str, str] = {}
        for key, value in parse_qsl(raw_query, keep_blank_values=True):
            params[key] = f"{params[key]},{value}" if key in params else value
        event["queryStringParameters"] = params
    event["requestContext"] = {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": domain,
        "domainPrefix": domain.split(".", 1)[0],
        "http": {
            "method": method,
            "path": raw_path,
            "protocol": "HTTP/1.1",
            "sourceIp": source_ip,
            "userAgent": combined.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": route.key,
        "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(arrival_ms / 1000)),
        "timeEpoch": arrival_ms,
    }
    if path_params:
        event["pathParameters"] = path_params
    if body:
        binary = "content-encoding" in combined or not is_text(combined.get("content-type"))
        if binary:
            event["body"] = base64.b64encode(body).decode()
        else:
            event["body"] = body.decode("utf-8", "replace")
        event["isBase64Encoded"] = binary
    else:
        event["isBase64Encoded"] = False
    return event


class BadIntegrationResponse(ValueError):
    """The function answered something API Gateway cannot turn into a response."""


def convert_response(payload: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    """A Lambda answer (payload format 2.0) as (status, headers, body)."""
    try:
        doc = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadIntegrationResponse(f"the answer is not JSON: {exc}") from None
    if not isinstance(doc, dict) or "statusCode" not in doc:
        return 200, [("Content-Type", "application/json")], payload
    status = doc.get("statusCode")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise BadIntegrationResponse(f"statusCode {status!r} is not an HTTP status")
    headers: list[tuple[str, str]] = []
    for name, value in (doc.get("headers") or {}).items():
        headers.append((str(name), value if isinstance(value, str) else json.dumps(value)))
    for name, values in (doc.get("multiValueHeaders") or {}).items():
        for value in values or []:
            headers.append((str(name), str(value)))
    for cookie in doc.get("cookies") or []:
        headers.append(("Set-Cookie", str(cookie)))
    body = doc.get("body")
    if body is None:
        data = b""
    elif not isinstance(body, str):
        raise BadIntegrationResponse("body must be a string")
    elif doc.get("isBase64Encoded"):
        try:
            data = base64.b64decode(body, validate=True)
        except ValueError as exc:
            raise BadIntegrationResponse(f"body is not base64: {exc}") from None
    else:
        data = body.encode("utf-8")
    return status, headers, data


# --------------------------------------------------------------------------------------------
# The execution environment: the function process behind a Runtime API
# --------------------------------------------------------------------------------------------


@dataclass
class Invocation:
    payload: bytes
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    deadline_ms: int = 0
    handed_out: bool = False
    outcome: str | None = None  # response, error, timeout, crash, init-error
    result: bytes = b""
    done: threading.Event = field(default_factory=threading.Event)

    def finish(self, outcome: str, result: bytes = b"") -> None:
        if not self.done.is_set():
            self.outcome, self.result = outcome, result
            self.done.set()


def read_body(rfile: Any, headers: Any) -> bytes:
    """A request body by Content-Length or chunked Transfer-Encoding."""
    if "chunked" in (headers.get("Transfer-Encoding") or "").lower():
        chunks = []
        while True:
            line = rfile.readline(65537)
            if not line:
                break
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                break
            chunks.append(rfile.read(size))
            rfile.readline(3)
        return b"".join(chunks)
    length = int(headers.get("Content-Length") or 0)
    return rfile.read(length) if length > 0 else b""


class Environment:
    """One Lambda execution environment: the function binary and the Runtime API it polls."""

    def __init__(
        self,
        command: list[str],
        spec: FunctionSpec,
        extra_env: dict[str, str],
        log_path: Path | None,
        region: str,
    ) -> None:
        self.command = command
        self.spec = spec
        self.extra_env = extra_env
        self.log_path = log_path
        self.region = region
        self.cond = threading.Condition()
        self.current: Invocation | None = None
        self.init_error: bytes | None = None
        self.ready = False  # the process asked for its first invocation
        self.proc: subprocess.Popen[bytes] | None = None
        self.queue: deque[Invocation] = deque()
        self.stopping = False
        self.generation = 0  # one per process started: a /next from a killed one gets nothing
        self.runtime = ThreadingHTTPServer((HOST, 0), self._handler_class())
        self.runtime.daemon_threads = True
        self.runtime_addr = f"{HOST}:{self.runtime.server_address[1]}"
        threading.Thread(target=self.runtime.serve_forever, name="runtime-api", daemon=True).start()
        threading.Thread(target=self._worker, name="environment", daemon=True).start()

    # -- the process ---------------------------------------------------------------------

    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.spec.name}"

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.spec.env)
        env.update(self.extra_env)
        stream = time.strftime("%Y/%m/%d") + f"/[$LATEST]{uuid.uuid4().hex}"
        env.update(
            AWS_LAMBDA_RUNTIME_API=self.runtime_addr,
            AWS_LAMBDA_FUNCTION_NAME=self.spec.name,
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(self.spec.memory_mb),
            AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
            AWS_LAMBDA_LOG_GROUP_NAME=f"/aws/lambda/{self.spec.name}",
            AWS_LAMBDA_LOG_STREAM_NAME=stream,
            AWS_LAMBDA_INITIALIZATION_TYPE="on-demand",
            AWS_REGION=env.get("AWS_REGION", self.region),
            AWS_DEFAULT_REGION=env.get("AWS_REGION", self.region),
            _HANDLER=self.spec.handler,
            LAMBDA_TASK_ROOT=str(Path(self.command[0]).resolve().parent),
            TZ=":UTC",
        )
        return env

    def start(self) -> None:
        with self.cond:
            self._start_locked()

    def _start_locked(self) -> None:
        self.ready = False
        self.init_error = None
        self.generation += 1
        out: Any = subprocess.DEVNULL
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            out = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        try:
            self.proc = subprocess.Popen(
                self.command,
                env=self._env(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            if out is not subprocess.DEVNULL:
                out.close()
        log.info("started %s (pid %d)", self.command[0], self.proc.pid)

    def _kill_locked(self, why: str) -> None:
        if self.proc is not None and self.proc.poll() is None:
            log.warning("killing the function process (%s)", why)
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                self.proc.kill()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        self.proc = None
        self.ready = False

    def _alive_locked(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        with self.cond:
            self.stopping = True
            self._kill_locked("stopping")
            for inv in self.queue:
                inv.finish("crash")
            self.queue.clear()
            self.cond.notify_all()
        self.runtime.shutdown()
        self.runtime.server_close()

    # -- invocations ---------------------------------------------------------------------

    def submit(self, payload: bytes) -> Invocation:
        inv = Invocation(payload)
        with self.cond:
            self.queue.append(inv)
            self.cond.notify_all()
        return inv

    def _worker(self) -> None:
        while True:
            with self.cond:
                while not self.queue and not self.stopping:
                    self.cond.wait()
                if self.stopping:
                    return
                inv = self.queue.popleft()
                self._run_locked(inv)

    def _run_locked(self, inv: Invocation) -> None:
        # Init: start the process if there is none, wait for its first /next.
        if not self._alive_locked():
            self._start_locked()
        init_end = time.monotonic() + INIT_LIMIT_S
        while not self.ready and self.init_error is None and self._alive_locked():
            left = init_end - time.monotonic()
            if left <= 0:
                break
            self.cond.wait(min(left, 0.05))
        if not self.ready:
            if self.init_error is not None:
                why, outcome = "init error", "init-error"
            elif not self._alive_locked():
                why, outcome = "exited during init", "init-error"
            else:
                why, outcome = "init took longer than 10 s", "init-error"
            log.warning("function init failed: %s", why)
            inv.finish(outcome, self.init_error or why.encode())
            self._kill_locked(why)
            return
        # Invoke.
        inv.deadline_ms = int(time.time() * 1000) + self.spec.timeout_s * 1000
        self.current = inv
        self.cond.notify_all()
        while not inv.done.is_set():
            left = inv.deadline_ms / 1000 - time.time()
            if left <= 0:
                inv.finish("timeout", b"Task timed out")
                self._kill_locked(f"timed out after {self.spec.timeout_s} s")
                break
            if not self._alive_locked():
                inv.finish("crash", b"Runtime exited")
                self._kill_locked("exited during an invocation")
                break
            self.cond.wait(min(left, 0.05))
        self.current = None

    # -- the Runtime API -----------------------------------------------------------------

    def _next(self) -> Invocation | None:
        with self.cond:
            generation = self.generation
            self.ready = True
            self.cond.notify_all()
            while not self.stopping and generation == self.generation:
                inv = self.current
                if inv is not None and not inv.handed_out and not inv.done.is_set():
                    inv.handed_out = True
                    return inv
                self.cond.wait(0.5)
            return None

    def _post(self, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        parts = path.strip("/").split("/")
        with self.cond:
            if parts[1:] == ["runtime", "init", "error"]:
                self.init_error = body or b"init error"
                self.cond.notify_all()
                return 202, {"status": "OK"}
            if len(parts) == 5 and parts[1:3] == ["runtime", "invocation"]:
                request_id, kind = parts[3], parts[4]
                inv = self.current
                if inv is None or inv.request_id != request_id:
                    return 400, {
                        "errorMessage": f"Invalid request ID: {request_id}",
                        "errorType": "InvalidRequestID",
                    }
                if kind == "response":
                    inv.finish("response", body)
                elif kind == "error":
                    inv.finish("error", body)
                else:
                    return 404, {"errorMessage": "not found", "errorType": "NotFound"}
                self.cond.notify_all()
                return 202, {"status": "OK"}
        return 404, {"errorMessage": f"no such path {path}", "errorType": "NotFound"}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        env = self

        class RuntimeHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, fmt: str, *args: Any) -> None:
                log.debug("runtime api: " + fmt, *args)

            def _send(self, status: int, doc: Any, extra: dict[str, str] | None = None) -> None:
                data = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                if self.path.rstrip("/").endswith("/runtime/invocation/next"):
                    inv = env._next()
                    if inv is None:  # stopping, or this process was replaced
                        self.close_connection = True
                        try:
                            self._send(500, {"errorMessage": "no invocation for this process"})
                        except OSError:
                            pass
                        return
                    now = time.time()
                    self._send(
                        200,
                        inv.payload,
                        {
                            "Lambda-Runtime-Aws-Request-Id": inv.request_id,
                            "Lambda-Runtime-Deadline-Ms": str(inv.deadline_ms),
                            "Lambda-Runtime-Invoked-Function-Arn": env.arn(),
                            "Lambda-Runtime-Trace-Id": f"{trace_id(now)};"
                            f"Parent={secrets.token_hex(8)};Sampled=0",
                        },
                    )
                    return
                self._send(404, {"errorMessage": "not found", "errorType": "NotFound"})

            def do_POST(self) -> None:  # noqa: N802
                body = read_body(self.rfile, self.headers)
                status, doc = env._post(self.path, body)
                self._send(status, doc)

        return RuntimeHandler


# --------------------------------------------------------------------------------------------
# The HTTP API
# --------------------------------------------------------------------------------------------


def gateway_error(status: int) -> tuple[int, list[tuple[str, str]], bytes]:
    message = {
        404: "Not Found",
        413: "Request Entity Too Large",
        500: "Internal Server Error",
        503: "Service Unavailable",
    }.get(status, HTTPStatus(status).phrase)
    return status, [("Content-Type", "application/json")], json.dumps({"message": message}).encode()


class Gateway:
    """The HTTP API in front of one execution environment."""

    def __init__(
        self,
        api: Api,
        environment: Environment,
        port: int = 0,
        access_log: Path | None = None,
        integration_timeout_s: float | None = None,
    ) -> None:
        self.api = api
        self.environment = environment
        self.access_log = access_log
        self.integration_timeout_s = integration_timeout_s
        self.log_lock = threading.Lock()
        self.server = ThreadingHTTPServer((HOST, port), self._handler_class())
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])

    def serve(self) -> None:
        threading.Thread(target=self.server.serve_forever, name="http-api", daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def record(self, entry: dict[str, Any]) -> None:
        if self.access_log is None:
            return
        with self.log_lock, open(self.access_log, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")

    def handle(
        self,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes,
        source_ip: str,
        arrival_ms: int,
        entry: dict[str, Any],
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        lookup = {k.lower(): v for k, v in headers}
        origin = lookup.get("origin")
        cors = self.api.cors
        raw_path = target.partition("?")[0]
        if (
            cors is not None
            and method == "OPTIONS"
            and origin is not None
            and "access-control-request-method" in lookup
        ):
            entry["preflight"] = True
            cors_headers = cors.preflight(
                origin,
                lookup["access-control-request-method"],
                lookup.get("access-control-request-headers"),
            )
            return 204, cors_headers, b""
        found = find_route(self.api.routes, method, raw_path)
        if found is None:
            return self._with_cors(gateway_error(404), origin)
        route, params = found
        entry["route"] = route.key
        if len(body) > MAX_BODY:
            return self._with_cors(gateway_error(413), origin)
        event = build_event(
            method=method,
            target=target,
            headers=headers,
            body=body,
            source_ip=source_ip,
            local_port=self.port,
            route=route,
            path_params=params,
            request_id=entry["request_id"],
            arrival_ms=arrival_ms,
        )
        payload = json.dumps(event).encode()
        if len(payload) > MAX_INVOKE_PAYLOAD:
            return self._with_cors(gateway_error(413), origin)
        entry["invoked"] = True
        inv = self.environment.submit(payload)
        entry["lambda_request_id"] = inv.request_id
        timeout_s = (
            self.integration_timeout_s
            if self.integration_timeout_s is not None
            else route.timeout_ms / 1000
        )
        waited = time.time() - arrival_ms / 1000
        if not inv.done.wait(max(timeout_s - waited, 0)):
            entry["outcome"] = "integration-timeout"
            return self._with_cors(gateway_error(503), origin)
        entry["outcome"] = inv.outcome
        if inv.outcome != "response":
            log.warning(
                "invocation %s: %s %s", inv.request_id, inv.outcome, inv.result[:500].decode("utf-8", "replace")
            )
            return self._with_cors(gateway_error(500), origin)
        try:
            status, out_headers, out_body = convert_response(inv.result)
        except BadIntegrationResponse as exc:
            log.warning("invocation %s: %s", inv.request_id, exc)
            entry["outcome"] = "bad-response"
            return self._with_cors(gateway_error(500), origin)
        return self._with_cors((status, out_headers, out_body), origin)

    def _with_cors(
        self, response: tuple[int, list[tuple[str, str]], bytes], origin: str | None
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        cors = self.api.cors
        if cors is None:
            return response
        status, headers, body = response
        kept = [(k, v) for k, v in headers if not k.lower().startswith("access-control-")]
        return status, kept + cors.response(origin), body

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class ApiHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True
            server_version = "local-apigw"
            sys_version = ""

            def log_message(self, fmt: str, *args: Any) -> None:
                log.info("http api: " + fmt, *args)

            def _serve(self) -> None:
                arrival_ms = int(time.time() * 1000)
                started = time.monotonic()
                method = self.command.upper()
                request_id = new_request_id()
                entry: dict[str, Any] = {
                    "time_ms": arrival_ms,
                    "method": method,
                    "path": self.path.partition("?")[0],
                    "query": self.path.partition("?")[2],
                    "status": None,
                    "route": None,
                    "origin": self.headers.get("Origin"),
                    "acr_method": self.headers.get("Access-Control-Request-Method"),
                    "acr_headers": self.headers.get("Access-Control-Request-Headers"),
                    "preflight": False,
                    "invoked": False,
                    "request_id": request_id,
                    "lambda_request_id": None,
                    "outcome": None,
                    "user_agent": self.headers.get("User-Agent"),
                }
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                except ValueError:
                    length = 0
                if length > MAX_BODY:
                    status, headers, body = gateway_error(413)
                    self.close_connection = True
                else:
                    data = read_body(self.rfile, self.headers)
                    status, headers, body = gateway.handle(
                        method,
                        self.path,
                        list(self.headers.items()),
                        data,
                        self.client_address[0],
                        arrival_ms,
                        entry,
                    )
                self.send_response(status)
                sent = [("apigw-requestid", request_id)]
                for name, value in headers:
                    if name.lower() in ("content-length", "connection", "transfer-encoding", "date", "server"):
                        continue
                    sent.append((name, value))
                for name, value in sent:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if method != "HEAD":
                    self.wfile.write(body)
                entry["status"] = status
                entry["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
                entry["response_headers"] = dict(sent)
                gateway.record(entry)

            def send_response(self, code: int, message: str | None = None) -> None:
                self.log_request(code)
                self.send_response_only(code, message)
                self.send_header("Date", formatdate(usegmt=True))

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve  # noqa: N815

        return ApiHandler


# --------------------------------------------------------------------------------------------
# Process plumbing
# --------------------------------------------------------------------------------------------


def pairs(values: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"local_apigw: {what} must be NAME=VALUE, not {item!r}")
        out[name] = value
    return out


def load_template(path: Path) -> dict[str, Any]:
    from cfnlint.decode import cfn_yaml

    return cfn_yaml.load(str(path))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--function", help="the function binary (e.g. target/debug/sync-to-s3)")
    parser.add_argument("--template", type=Path, default=Path("template.yaml"))
    parser.add_argument("--function-id", help="logical id of the function, when several")
    parser.add_argument("--parameter", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--log", type=Path, help="append the function's stdout/stderr here")
    parser.add_argument("--access-log", type=Path, help="append one JSON line per request here")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free one)")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"))
    parser.add_argument(
        "--integration-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="override the routes' TimeoutInMillis (default 30 s)",
    )
    parser.add_argument("--verbose", action="store_true", help="log each request to stderr")
    parser.add_argument("--self-test", action="store_true", help="run the built-in checks")
    args = parser.parse_args(argv)

    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO if args.verbose else logging.WARNING,
        format="local_apigw: %(levelname)s %(message)s",
    )
    if args.self_test:
        if not args.verbose:  # the checks provoke warnings on purpose
            logging.getLogger().setLevel(logging.ERROR)
        return self_test()
    if not args.function:
        parser.error("--function is required")

    real_stdout = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    try:
        api = load_api(
            load_template(args.template),
            pairs(args.parameter, "--parameter"),
            args.function_id,
            args.region,
        )
    except TemplateError as exc:
        print(f"local_apigw: {args.template}: {exc}", file=sys.stderr)
        return 2
    binary = Path(args.function)
    if not os.access(binary, os.X_OK):
        print(f"local_apigw: {binary} is not an executable file", file=sys.stderr)
        return 2
    log.info("routes: %s", ", ".join(r.key for r in api.routes))
    log.info("cors: %s", api.cors)
    environment = Environment(
        [str(binary)], api.function, pairs(args.env, "--env"), args.log, args.region
    )
    environment.start()  # cold start now rather than on the first request
    gateway = Gateway(api, environment, args.port, args.access_log, args.integration_timeout)
    gateway.serve()

    stdin_watch.run_until_stopped(threading.Event(), log, real_stdout, gateway.port)
    gateway.stop()
    environment.stop()
    return 0


# --------------------------------------------------------------------------------------------
# Self-test
# --------------------------------------------------------------------------------------------

SELF_TEST_TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Origins:
    Type: CommaDelimitedList
    Default: "https://a.example,https://b.example"
  Bucket:
    Type: String
  Flag:
    Type: String
    Default: "no"
Conditions:
  HasFlag: !Equals [!Ref Flag, "yes"]
Globals:
  Function:
    Timeout: 2
    Environment:
      Variables:
        FROM_GLOBALS: g
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: bootstrap
      MemorySize: 256
      LoggingConfig:
        LogFormat: JSON
      Environment:
        Variables:
          BUCKET: !Ref Bucket
          ARN: !Sub arn:${AWS::Partition}:s3:::${Bucket}/*
          FLAG: !If [HasFlag, "on", !Ref AWS::NoValue]
      Events:
        Greedy:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: "/v1/{proxy+}", Method: POST}
        Exact:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: /v1/batch, Method: POST}
        Var:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: "/items/{id}", Method: ANY}
        Anything:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: "/{proxy+}", Method: ANY}
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      CorsConfiguration:
        AllowOrigins: !Ref Origins
        AllowMethods: [POST]
        AllowHeaders: [Content-Type, Authorization]
        ExposeHeaders: [x-id]
        MaxAge: 600
"""

# A function speaking the Runtime API: echoes the event it gets, or misbehaves on request.
FAKE_FUNCTION = r'''#!PYTHON
import json, os, sys, time, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"
if os.environ.get("FAKE_INIT_ERROR"):
    req = urllib.request.Request(api + "/init/error", data=b'{"errorType":"Init","errorMessage":"boom"}', method="POST")
    urllib.request.urlopen(req).read()
    sys.exit(1)
env_seen = {k: os.environ.get(k) for k in ("BUCKET", "ARN", "FLAG", "FROM_GLOBALS", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_LOG_FORMAT", "EXTRA")}
while True:
    with urllib.request.urlopen(api + "/invocation/next") as r:
        rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
        deadline = int(r.headers["Lambda-Runtime-Deadline-Ms"])
        arn = r.headers["Lambda-Runtime-Invoked-Function-Arn"]
        event = json.loads(r.read())
    path = event.get("rawPath", "")
    def post(kind, body):
        req = urllib.request.Request(api + "/invocation/" + rid + "/" + kind, data=body, method="POST")
        urllib.request.urlopen(req).read()
    if path.endswith("/error"):
        post("error", b'{"errorType":"X","errorMessage":"failed"}')
    elif path.endswith("/bare"):
        post("response", b'{"bare": true}')
    elif path.endswith("/junk"):
        post("response", b'not json')
    elif path.endswith("/crash"):
        os._exit(3)
    elif path.endswith("/sleep"):
        time.sleep(30)
    else:
        doc = {"statusCode": 201, "headers": {"Content-Type": "application/json", "Access-Control-Allow-Origin": "https://evil.example", "X-Id": "7"},
               "cookies": ["a=1"],
               "body": json.dumps({"event": event, "env": env_seen, "deadline": deadline, "arn": arn, "pid": os.getpid()})}
        post("response", json.dumps(doc).encode())
'''


def self_test() -> int:  # noqa: C901 - a list of checks
    from cfnlint.decode import cfn_yaml

    results: list[tuple[str, str | None]] = []

    def check(name: str, fn: Callable[[], None]) -> None:
        try:
            fn()
            results.append((name, None))
        except Exception as exc:  # noqa: BLE001 - reported
            results.append((name, f"{type(exc).__name__}: {exc}"))

    template = cfn_yaml.loads(SELF_TEST_TEMPLATE)

    def t_requires_parameter() -> None:
        try:
            load_api(template, {})
        except TemplateError as exc:
            assert "Bucket" in str(exc), exc
        else:
            raise AssertionError("a parameter without Default was not asked for")

    def t_unknown_parameter() -> None:
        try:
            load_api(template, {"Bucket": "b", "Nope": "x"})
        except TemplateError as exc:
            assert "Nope" in str(exc), exc
        else:
            raise AssertionError("an unknown --parameter was accepted")

    api = load_api(template, {"Bucket": "bkt"})

    def t_template() -> None:
        assert api.function.logical_id == "Fn"
        assert api.function.timeout_s == 2 and api.function.memory_mb == 256
        assert api.function.env == {
            "FROM_GLOBALS": "g",
            "BUCKET": "bkt",
            "ARN": "arn:aws:s3:::bkt/*",
            "AWS_LAMBDA_LOG_FORMAT": "JSON",
        }, api.function.env
        assert sorted(r.key for r in api.routes) == [
            "ANY /items/{id}",
            "ANY /{proxy+}",
            "POST /v1/batch",
            "POST /v1/{proxy+}",
        ]
        assert api.cors is not None
        assert api.cors.allow_origins == ["https://a.example", "https://b.example"]
        assert api.cors.allow_headers == ["content-type", "authorization"]
        assert api.cors.max_age == 600
        with_flag = load_api(template, {"Bucket": "bkt", "Flag": "yes"})
        assert with_flag.function.env["FLAG"] == "on"

    def t_routing() -> None:
        def key(method: str, path: str) -> str | None:
            found = find_route(api.routes, method, path)
            return found[0].key if found else None

        assert key("POST", "/v1/batch") == "POST /v1/batch"
        assert key("POST", "/v1/t") == "POST /v1/{proxy+}"
        assert key("POST", "/v1/import/") == "POST /v1/{proxy+}"
        assert find_route(api.routes, "POST", "/v1/a/b")[1] == {"proxy": "a/b"}  # type: ignore[index]
        assert key("GET", "/v1/t") == "ANY /{proxy+}"  # the POST route does not take GET
        assert key("GET", "/items/3") == "ANY /items/{id}"
        assert find_route(api.routes, "GET", "/items/3")[1] == {"id": "3"}  # type: ignore[index]
        assert key("GET", "/items/3/x") == "ANY /{proxy+}"
        assert key("GET", "/") is None  # {proxy+} needs at least one segment
        only = [Route.make("POST", "/v1/batch")]
        assert find_route(only, "POST", "/v1/t") is None
        assert find_route(only, "GET", "/v1/batch") is None
        default = [Route.make(None, None), Route.make("POST", "/v1/{proxy+}")]
        assert find_route(default, "POST", "/v1/x")[0].key == "POST /v1/{proxy+}"  # type: ignore[index]
        assert find_route(default, "GET", "/x")[0].key == "$default"  # type: ignore[index]

    def t_cors() -> None:
        cors = api.cors
        assert cors is not None
        ok = cors.preflight("https://a.example", "POST", "authorization,content-type")
        assert dict(ok) == {
            "Access-Control-Allow-Origin": "https://a.example",
            "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": "content-type,authorization",
            "Access-Control-Max-Age": "600",
        }, ok
        assert cors.preflight("https://c.example", "POST", None) == []
        assert cors.preflight("https://a.example", "PUT", None) == []
        assert cors.preflight("https://a.example", "POST", "authorization,x-retry-count") == []
        assert cors.preflight("https://a.example", "POST", "Authorization") != []
        star = Cors.from_config({"AllowOrigins": ["*"], "AllowMethods": ["*"], "AllowHeaders": ["*"]})
        assert star is not None
        assert dict(star.preflight("http://x:1", "DELETE", "x-any"))["Access-Control-Allow-Origin"] == "*"
        assert dict(cors.response("https://b.example")) == {
            "Access-Control-Allow-Origin": "https://b.example",
            "Access-Control-Expose-Headers": "x-id",
        }
        assert cors.response(None) == [] and cors.response("https://c.example") == []
        wild = Cors.from_config({"AllowOrigins": ["https://*.example.com"]})
        assert wild is not None and wild.origin_allowed("https://app.example.com")
        assert not wild.origin_allowed("https://example.org")

    def t_event() -> None:
        route = Route.make("POST", "/v1/{proxy+}")
        common: dict[str, Any] = dict(
            method="POST",
            source_ip="127.0.0.1",
            local_port=9,
            route=route,
            path_params={"proxy": "b"},
            request_id="rid",
            arrival_ms=1_700_000_000_123,
        )
        ev = build_event(
            target="/v1/b?x=1&x=2&y=",
            headers=[
                ("Host", "127.0.0.1:9"),
                ("Content-Type", "text/plain"),
                ("X-Dup", "a"),
                ("x-dup", "b"),
                ("Cookie", "c1=1; c2=2"),
                ("User-Agent", "ua"),
            ],
            body=b'{"k": "\xc3\xa9"}',
            **common,
        )
        assert list(ev) == [
            "version",
            "routeKey",
            "rawPath",
            "rawQueryString",
            "cookies",
            "headers",
            "queryStringParameters",
            "requestContext",
            "pathParameters",
            "body",
            "isBase64Encoded",
        ], list(ev)
        assert ev["routeKey"] == "POST /v1/{proxy+}" and ev["rawPath"] == "/v1/b"
        assert ev["rawQueryString"] == "x=1&x=2&y="
        assert ev["queryStringParameters"] == {"x": "1,2", "y": ""}
        assert ev["cookies"] == ["c1=1", "c2=2"] and "cookie" not in ev["headers"]
        assert ev["headers"]["x-dup"] == "a,b" and ev["headers"]["content-type"] == "text/plain"
        assert ev["headers"]["x-forwarded-for"] == "127.0.0.1"
        assert ev["headers"]["x-amzn-trace-id"].startswith("Root=1-")
        rc = ev["requestContext"]
        assert rc["timeEpoch"] == 1_700_000_000_123 and rc["time"] == "14/Nov/2023:22:13:20 +0000"
        assert rc["http"] == {
            "method": "POST",
            "path": "/v1/b",
            "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.1",
            "userAgent": "ua",
        }
        assert rc["stage"] == "$default" and rc["requestId"] == "rid"
        assert ev["body"] == '{"k": "é"}' and ev["isBase64Encoded"] is False
        for ctype, encoding, binary in [
            ("application/json", None, False),
            ("application/json; charset=utf-8", None, False),
            ("text/plain;charset=UTF-8", None, False),
            ("application/xml", None, False),
            ("application/javascript", None, False),
            ("application/json", "gzip", True),
            ("application/x-www-form-urlencoded", None, True),
            ("application/octet-stream", None, True),
            (None, None, True),
        ]:
            hdrs = [("Content-Type", ctype)] if ctype else []
            if encoding:
                hdrs.append(("Content-Encoding", encoding))
            ev = build_event(target="/v1/b", headers=hdrs, body=b"{}", **common)
            assert ev["isBase64Encoded"] is binary, (ctype, encoding)
            assert ev["body"] == ("e30=" if binary else "{}")
        empty = build_event(target="/v1/b", headers=[], body=b"", **common)
        assert "body" not in empty and empty["isBase64Encoded"] is False
        assert "queryStringParameters" not in empty and "cookies" not in empty

    def t_responses() -> None:
        assert convert_response(b'{"a": 1}') == (200, [("Content-Type", "application/json")], b'{"a": 1}')
        assert convert_response(b'"hi"')[0] == 200
        status, headers, body = convert_response(
            json.dumps(
                {
                    "statusCode": 401,
                    "headers": {"X": "1"},
                    "multiValueHeaders": {"Y": ["a", "b"]},
                    "cookies": ["s=1"],
                    "body": base64.b64encode(b"\x00\x01").decode(),
                    "isBase64Encoded": True,
                }
            ).encode()
        )
        assert status == 401 and body == b"\x00\x01"
        assert headers == [("X", "1"), ("Y", "a"), ("Y", "b"), ("Set-Cookie", "s=1")]
        for bad in (b"nope", b'{"statusCode": 99}', b'{"statusCode": 200, "body": 5}'):
            try:
                convert_response(bad)
            except BadIntegrationResponse:
                pass
            else:
                raise AssertionError(f"accepted {bad!r}")

    for name, fn in [
        ("template: a parameter without Default must be given", t_requires_parameter),
        ("template: unknown --parameter refused", t_unknown_parameter),
        ("template: function, routes, CORS, environment", t_template),
        ("routing: exact, variables, greedy, ANY, $default, 404", t_routing),
        ("cors: preflight and response headers", t_cors),
        ("event: payload format 2.0 fields and base64 rules", t_event),
        ("responses: 2.0 structured, bare JSON, invalid", t_responses),
    ]:
        check(name, fn)

    # End to end: a fake function behind the Runtime API.
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bootstrap"
        script.write_text(FAKE_FUNCTION.replace("#!PYTHON", "#!" + sys.executable))
        script.chmod(0o755)
        function_log = Path(tmp) / "function.log"
        access_log = Path(tmp) / "access.jsonl"
        environment = Environment([str(script)], api.function, {"EXTRA": "e"}, function_log, "us-east-1")
        gateway = Gateway(api, environment, 0, access_log, integration_timeout_s=1.5)
        gateway.serve()

        def request(
            method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
        ) -> tuple[int, dict[str, str], bytes]:
            conn = http.client.HTTPConnection(HOST, gateway.port, timeout=20)
            conn.request(method, path, body=body, headers=headers or {})
            res = conn.getresponse()
            data = res.read()
            out = {k.lower(): v for k, v in res.getheaders()}
            conn.close()
            return res.status, out, data

        def e_roundtrip() -> None:
            started = int(time.time() * 1000)
            status, headers, body = request(
                "POST",
                "/v1/t?q=1",
                b'{"type":"track"}',
                {"Content-Type": "text/plain", "Origin": "https://a.example", "Authorization": "Basic eDo="},
            )
            assert status == 201, (status, body)
            doc = json.loads(body)
            ev = doc["event"]
            assert ev["routeKey"] == "POST /v1/{proxy+}" and ev["pathParameters"] == {"proxy": "t"}, ev
            assert ev["body"] == '{"type":"track"}' and not ev["isBase64Encoded"]
            assert ev["headers"]["authorization"] == "Basic eDo="
            assert started <= ev["requestContext"]["timeEpoch"] <= int(time.time() * 1000), ev
            assert headers["access-control-allow-origin"] == "https://a.example", headers
            assert headers["access-control-expose-headers"] == "x-id"
            assert headers["set-cookie"] == "a=1" and headers["x-id"] == "7"
            assert headers["apigw-requestid"] == ev["requestContext"]["requestId"]
            assert doc["env"] == {
                "BUCKET": "bkt",
                "ARN": "arn:aws:s3:::bkt/*",
                "FLAG": None,
                "FROM_GLOBALS": "g",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
                "AWS_LAMBDA_LOG_FORMAT": "JSON",
                "EXTRA": "e",
            }, doc["env"]
            assert doc["arn"].endswith(":function:local-Fn"), doc["arn"]
            # The 2 s Timeout counts from the invoke, after the cold start.
            assert started + 2000 <= doc["deadline"] <= int(time.time() * 1000) + 2000, doc["deadline"]

        def e_unique_ids() -> None:
            ids = set()
            for _ in range(5):
                _, _, body = request("POST", "/v1/batch", b"{}", {"Content-Type": "application/json"})
                ids.add(json.loads(body)["event"]["requestContext"]["requestId"])
            assert len(ids) == 5

        def e_gzip_base64() -> None:
            _, _, body = request(
                "POST", "/v1/batch", b"\x1f\x8b\x00", {"Content-Type": "application/json", "Content-Encoding": "gzip"}
            )
            ev = json.loads(body)["event"]
            assert ev["isBase64Encoded"] is True and base64.b64decode(ev["body"]) == b"\x1f\x8b\x00"

        def e_preflight() -> None:
            before = json.loads(request("POST", "/v1/x", b"{}")[2])["pid"]
            status, headers, body = request(
                "OPTIONS",
                "/anything/at/all",
                headers={
                    "Origin": "https://b.example",
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "authorization,content-type",
                },
            )
            assert status == 204 and body == b""
            assert headers["access-control-allow-origin"] == "https://b.example"
            assert headers["access-control-allow-headers"] == "content-type,authorization"
            status, headers, _ = request(
                "OPTIONS",
                "/v1/t",
                headers={"Origin": "https://b.example", "Access-Control-Request-Method": "POST",
                         "Access-Control-Request-Headers": "x-retry-count"},
            )
            assert status == 204 and not any(k.startswith("access-control") for k in headers), headers
            entries = [json.loads(line) for line in access_log.read_text().splitlines()]
            assert entries[-1]["preflight"] and not entries[-1]["invoked"]
            assert json.loads(request("POST", "/v1/x", b"{}")[2])["pid"] == before

        def e_no_route() -> None:
            status, headers, body = request("GET", "/", headers={"Origin": "https://a.example"})
            assert (status, json.loads(body)) == (404, {"message": "Not Found"}), (status, body)
            assert headers["access-control-allow-origin"] == "https://a.example"
            status, _, _ = request("OPTIONS", "/v1/t")  # not a preflight: routed, ANY /{proxy+}
            assert status == 201

        def e_bare_and_errors() -> None:
            status, headers, body = request("POST", "/v1/bare", b"{}")
            assert (status, body) == (200, b'{"bare": true}') and headers["content-type"] == "application/json"
            status, _, body = request("POST", "/v1/error", b"{}")
            assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})
            status, _, body = request("POST", "/v1/junk", b"{}")
            assert status == 500
            pid = json.loads(request("POST", "/v1/x", b"{}")[2])["pid"]
            status, _, _ = request("POST", "/v1/crash", b"{}")
            assert status == 500
            status, _, body = request("POST", "/v1/x", b"{}")
            assert status == 201 and json.loads(body)["pid"] != pid  # a new environment

        def e_timeouts() -> None:
            t0 = time.monotonic()
            status, _, body = request("POST", "/v1/sleep", b"{}")
            assert (status, json.loads(body)) == (503, {"message": "Service Unavailable"}), status
            assert 1.4 < time.monotonic() - t0 < 3
            # The invocation goes on until the function's 2 s timeout kills it; the next request
            # waits for the environment, then gets a fresh one.
            status, _, body = request("POST", "/v1/x", b"{}")
            assert status == 201, (status, body)
            entries = [json.loads(line) for line in access_log.read_text().splitlines()]
            assert any(e["outcome"] == "integration-timeout" for e in entries)

        def e_concurrent() -> None:
            results: list[int] = []

            def one() -> None:
                results.append(request("POST", "/v1/x", b"{}")[0])

            threads = [threading.Thread(target=one) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert results == [201] * 8, results

        for name, fn in [
            ("e2e: event, headers, CORS on the response, environment, deadline", e_roundtrip),
            ("e2e: unique request ids", e_unique_ids),
            ("e2e: Content-Encoding makes the body base64", e_gzip_base64),
            ("e2e: preflight answered by the stand-in, refused one has no CORS headers", e_preflight),
            ("e2e: no route 404; OPTIONS without preflight headers is routed", e_no_route),
            ("e2e: bare JSON 200, function error/junk/crash 500, restart", e_bare_and_errors),
            ("e2e: integration timeout 503, function timeout restarts", e_timeouts),
            ("e2e: concurrent requests queue for one environment", e_concurrent),
        ]:
            check(name, fn)
        gateway.stop()
        environment.stop()

        init_env = Environment([str(script)], api.function, {"FAKE_INIT_ERROR": "1"}, function_log, "us-east-1")
        init_gw = Gateway(api, init_env, 0, None)
        init_gw.serve()

        def e_init_error() -> None:
            conn = http.client.HTTPConnection(HOST, init_gw.port, timeout=20)
            conn.request("POST", "/v1/x", body=b"{}")
            res = conn.getresponse()
            assert res.status == 500, res.status
            res.read()

        check("e2e: init error gives 500", e_init_error)
        init_gw.stop()
        init_env.stop()

    failed = 0
    for name, error in results:
        if error is None:
            print(f"ok    {name}")
        else:
            failed += 1
            print(f"FAIL  {name}: {error}")
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    code = main()
    sys.stderr.flush()
    sys.stdout.flush()
    os._exit(code)
