#!/usr/bin/env python3
"""Segment's real client libraries talk to sync-to-s3 through a local API Gateway, against moto.

Run from the project root (``make client-tests`` installs what it needs, builds and runs this)::

    .venv/bin/python tests/clients/test_real_clients.py --bin target/debug/sync-to-s3 \\
        [--only python,node,browser,replays] [--out out/client-tests]

It starts, all on 127.0.0.1 with free ports and stdin pipes (so none can outlive it):
scripts/local_aws/local_aws.py (moto: S3, STS, SSM, with fault injection), then scripts/local_apigw.py (the
HTTP API of template.yaml, its routes and its CorsConfiguration, running the function binary
behind a Lambda Runtime API), with the function configured by ``SYNC_CONFIG`` (one mapping that
takes every event into columns message_id, type, event, name, user_id, group_id, previous_id,
timestamp, original_timestamp, sent_at, received_at, write_key, context, properties, traits) and
by the template's own parameters (``BucketName``, ``SecretsParameterName``, whose SecureString
the binary's ``secrets`` command stores in moto's SSM first). Then it runs each client:

- python: segment-analytics-python 2.4.0, gzip on, its clock 1 hour behind (tests/clients/
  python_client.py); 7 calls to /v1/batch;
- node: @segment/analytics-node 3.1.0 (tests/clients/node_client.mjs); 7 calls to /v1/batch in
  several batches;
- browser: @segment/analytics-next 1.84.3 in Debian's Chromium through playwright-core, the page
  on another origin, the clock 1 hour ahead (tests/clients/browser_client.mjs); 6 calls to
  /v1/i, /v1/t, /v1/p, /v1/g, /v1/a (CORS preflights included), the first track answered 503 once
  through an injected S3 failure and retried by the library, and 5 calls batched to /v1/b;
- replays: the libraries that cannot be installed here (ruby, java, swift, kotlin, react-native,
  go, php), one byte-exact request each from tests/clients/replays/*.json (see its README), sent
  with http.client: the file's method, path, headers (only ``Host`` added, and ``Content-Length``
  when the file has none) and body bytes (``body_base64`` decoded, gzip left as sent). Each must
  answer ``expect_status``, every ``message_ids`` entry must land once with the type, event, name
  and user id of the body, and the receipt checks below apply to each event (its ``context.ip``
  is its own, or its batch's, when it has one).

and checks, from what the client sent (each client records its requests), the stand-in's access
log, and every object read back from S3 (CSV parsed with the csv module):

- every call landed exactly once (by messageId), with its type, event, name, group and ids, and
  nothing else of that client landed, and nothing was rejected (no ``_errors/`` object);
- the HTTP statuses: every POST answered 200 (but the one 503 provoked on purpose), every CORS
  preflight answered by the stand-in with the CORS headers (none refused), no 404 or 5xx from
  API Gateway;
- SPEC 10.3, the fields added on receipt: ``received_at`` (RFC 3339, ms, ``Z``, the arrival time),
  ``sent_at`` (the event's or the batch's, as written), ``original_timestamp`` (the client's time
  as written) and ``timestamp`` == received_at - (sent_at - original_timestamp) to the
  millisecond; for a client whose clock is 1 hour off, that timestamp is within a few seconds of
  the true time of the call; ``context.ip`` is 127.0.0.1; a single event's ``writeKey`` is not
  written (SPEC 10.1).

Each client's result is one PASS or FAIL line (with its reasons); the exit status is 1 when any
failed. A client that cannot run (Chromium missing or not starting, node_modules missing) FAILS,
it is never skipped. Logs (function, stand-in, local AWS, each client's result) are kept in
--out.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = ROOT / "tests" / "clients"
SCRIPTS = ROOT / "scripts"
PY = sys.executable
BUCKET = "sync-to-s3-client-tests"
WRITE_KEY = "wk_client_tests_1"
REPLAYS = CLIENTS / "replays"
REPLAY_WRITE_KEY = "wk_replay_test"  # the key every replay file carries (replays/README.md)
SECRETS_PARAMETER = "/sync-to-s3/client-tests-secrets"
HOUR_MS = 3_600_000
SKEW_TOLERANCE_MS = 5_000
COLUMNS = [
    ("message_id", "$.messageId"),
    ("type", "$.type"),
    ("event", "$.event"),
    ("name", "$.name"),
    ("user_id", "$.userId"),
    ("group_id", "$.groupId"),
    ("previous_id", "$.previousId"),
    ("timestamp", "$.timestamp"),
    ("original_timestamp", "$.originalTimestamp"),
    ("sent_at", "$.sentAt"),
    ("received_at", "$.receivedAt"),
    ("write_key", "$.writeKey"),
    ("context", "$.context"),
    ("properties", "$.properties"),
    ("traits", "$.traits"),
]
CONFIG = {
    "s3_aws_bucket_name": BUCKET,
    "s3_aws_region": "us-east-1",
    "mappings": [
        {
            "name": "clients",
            "subscription": "",
            "columns": {name: {"@path": path} for name, path in COLUMNS},
            "audience_action_column_name": "",
            "batch_size_column_name": "",
        }
    ],
}
RFC3339 = re.compile(
    r"^(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d+))?([Zz]|[+-]\d\d:\d\d)$"
)
RECEIPT_FORMAT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


# --------------------------------------------------------------------------------------------
# Times
# --------------------------------------------------------------------------------------------


def parse_ms(text: Any) -> int | None:
    """Milliseconds since the epoch of an RFC 3339 date-time, fraction truncated to ms."""
    if not isinstance(text, str):
        return None
    m = RFC3339.match(text)
    if not m:
        return None
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    fraction = (m.group(7) or "")[:3].ljust(3, "0")
    offset = m.group(8)
    try:
        base = datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)
    except ValueError:
        return None
    ms = int(base.timestamp()) * 1000 + int(fraction)
    if offset not in ("Z", "z"):
        sign = 1 if offset[0] == "+" else -1
        ms -= sign * (int(offset[1:3]) * 60 + int(offset[4:6])) * 60_000
    return ms


def format_ms(ms: int) -> str:
    t = datetime.fromtimestamp(ms // 1000, tz=timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


# --------------------------------------------------------------------------------------------
# Servers
# --------------------------------------------------------------------------------------------


class Server:
    """A helper process that prints ``PORT <n>`` and exits when its stdin closes."""

    def __init__(self, name: str, argv: list[str], log: Path, env: dict[str, str]) -> None:
        self.name = name
        self.log = log
        self._log_file = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log_file,
        )
        self.port = self._read_port(60)

    def _read_port(self, timeout: float) -> int:
        found: list[str] = []

        def read() -> None:
            assert self.proc.stdout is not None
            found.append(self.proc.stdout.readline().decode())

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(timeout)
        line = found[0] if found else ""
        if not line.startswith("PORT "):
            self.stop()
            tail = self.log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{self.name} did not start (no PORT line); its log:\n{tail}")
        return int(line.split()[1])

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log_file.close()


def s3_client(endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client(
        "s3",
        endpoint_url=endpoint,
        config=Config(s3={"addressing_style": "path"}, retries={"mode": "standard"}),
    )


def read_bucket(s3: Any) -> tuple[list[dict[str, str]], list[str], list[str]]:
    """Every data row (with its object key), the error objects' lines, and every key."""
    rows: list[dict[str, str]] = []
    errors: list[str] = []
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            key = item["Key"]
            keys.append(key)
            data = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
            if key.startswith("_errors/"):
                errors.extend(data.decode("utf-8", "replace").splitlines())
                continue
            reader = csv.DictReader(io.StringIO(data.decode("utf-8"), newline=""))
            for row in reader:
                row = dict(row)
                row["_key"] = key
                rows.append(row)
    return rows, errors, keys


# --------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------


class Report:
    def __init__(self, name: str, description: str) -> None:
        self.name = name
        self.description = description
        self.failures: list[str] = []
        self.counts: dict[str, int] = {}
        self.notes: list[str] = []
        self.facts: list[str] = []

    def fail(self, text: str) -> None:
        if text not in self.counts:
            self.failures.append(text)
            self.counts[text] = 0
        self.counts[text] += 1

    def print(self) -> None:
        status = "PASS" if not self.failures else "FAIL"
        facts = f": {'; '.join(self.facts)}" if self.facts else ""
        print(f"{status} {self.name} ({self.description}){facts}")
        for failure in self.failures[:40]:
            times = f" (x{self.counts[failure]})" if self.counts[failure] > 1 else ""
            print(f"     - {failure}{times}")
        if len(self.failures) > 40:
            print(f"     - ... and {len(self.failures) - 40} more")
        for note in self.notes:
            print(f"     note: {note}")


def sent_events(requests: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """messageId → the copies of that event as sent, each with the batch-level sentAt."""
    out: dict[str, list[dict[str, Any]]] = {}
    for req in requests:
        body = req.get("body")
        if not isinstance(body, dict):
            continue
        if isinstance(body.get("batch"), list):
            for ev in body["batch"]:
                if isinstance(ev, dict):
                    out.setdefault(str(ev.get("messageId")), []).append(
                        {"event": ev, "batch_sent_at": body.get("sentAt"), "url": req.get("url")}
                    )
        else:
            out.setdefault(str(body.get("messageId")), []).append(
                {"event": body, "batch_sent_at": None, "url": req.get("url")}
            )
    return out


def check_rows(
    report: Report,
    result: dict[str, Any],
    rows: list[dict[str, str]],
    prefix: str,
    window: tuple[int, int],
    clock_offset_ms: int,
) -> None:
    calls = [c for c in result.get("calls") or [] if c["messageId"].startswith(prefix)]
    if not calls:
        if not result.get("fatal"):
            report.fail(f"the client made no call with messageId prefix {prefix}")
        return
    by_id: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        if row.get("message_id", "").startswith(prefix):
            by_id.setdefault(row["message_id"], []).append(row)
    expected = {c["messageId"] for c in calls}
    stray = sorted(set(by_id) - expected)
    if stray:
        report.fail(f"rows with unknown message ids: {stray}")
    sent = sent_events(result.get("requests") or [])
    landed = 0
    receipt_missing: list[str] = []
    for call in calls:
        mid = call["messageId"]
        if call.get("requested_messageId") and call["requested_messageId"] != mid:
            report.fail(f"{call['requested_messageId']}: the library used messageId {mid}")
        found = by_id.get(mid, [])
        if len(found) != 1:
            report.fail(f"{mid} ({call['type']}): landed {len(found)} times, expected once")
            if not found:
                continue
        landed += 1
        row = found[0]
        label = f"{mid}"

        def want(column: str, value: Any, row: dict[str, str] = row, label: str = label) -> None:
            if value is not None and row.get(column) != str(value):
                report.fail(f"{label}: {column} is {row.get(column)!r}, expected {value!r}")

        want("type", call["type"])
        want("event", call.get("event"))
        want("name", call.get("name"))
        want("group_id", call.get("groupId"))
        want("previous_id", call.get("previousId"))
        if call["type"] == "identify":
            want("user_id", call.get("userId"))

        copies = sent.get(mid, [])
        if not copies:
            report.fail(f"{label}: no request carrying it was recorded by the client")
            continue
        copy = copies[-1]
        ev = copy["event"]
        single = copy["batch_sent_at"] is None and "batch" not in (ev or {})
        if single and row.get("write_key"):
            report.fail(f"{label}: the single event's writeKey was written to S3 (SPEC 10.1)")
        elif not single and row.get("write_key"):
            note = (
                "batch elements carrying their own writeKey (analytics-next batching puts one in "
                "every element) have it written to S3: SPEC 10.1 strips it from single events only"
            )
            if note not in report.notes:
                report.notes.append(note)

        # SPEC 10.3: fields added on receipt.
        received = row.get("received_at", "")
        if not received:
            receipt_missing.append(mid)
            continue
        problems: list[str] = []
        received_ms = parse_ms(received)
        if not RECEIPT_FORMAT.match(received) or received_ms is None:
            problems.append(f"received_at {received!r} is not RFC 3339 UTC with 3 fractional digits")
        elif not window[0] - 1000 <= received_ms <= window[1] + 1000:
            problems.append(
                f"received_at {received} is not the arrival time (the client ran "
                f"{format_ms(window[0])} .. {format_ms(window[1])})"
            )
        sent_at_text = ev.get("sentAt") if ev.get("sentAt") is not None else copy["batch_sent_at"]
        if row.get("sent_at") != (str(sent_at_text) if sent_at_text is not None else ""):
            problems.append(f"sent_at {row.get('sent_at')!r}, sent {sent_at_text!r}")
        client_text = ev.get("originalTimestamp") or ev.get("timestamp")
        if row.get("original_timestamp") != (client_text or ""):
            problems.append(
                f"original_timestamp {row.get('original_timestamp')!r}, client's time {client_text!r}"
            )
        sent_ms, client_ms = parse_ms(sent_at_text), parse_ms(client_text)
        if received_ms is not None and sent_ms is not None and client_ms is not None:
            corrected = received_ms - (sent_ms - client_ms)
            if row.get("timestamp") != format_ms(corrected):
                problems.append(
                    f"timestamp {row.get('timestamp')!r}, expected {format_ms(corrected)} = "
                    f"receivedAt {received} - (sentAt {sent_at_text} - client time {client_text})"
                )
            real = call.get("real_ms") or call.get("real_start_ms")
            real_end = call.get("real_end_ms") or real
            if real is not None and not (
                real - SKEW_TOLERANCE_MS <= corrected <= real_end + SKEW_TOLERANCE_MS
            ):
                problems.append(
                    f"corrected timestamp {format_ms(corrected)} is not within "
                    f"{SKEW_TOLERANCE_MS // 1000} s of the real time of the call {format_ms(real)}"
                )
            if clock_offset_ms and abs((client_ms - corrected) - clock_offset_ms) > SKEW_TOLERANCE_MS:
                problems.append(
                    f"client time {client_text} is not {clock_offset_ms // 60000} min off the "
                    f"corrected time {format_ms(corrected)}: was the clock really off?"
                )
        else:
            problems.append(f"cannot parse sentAt {sent_at_text!r} or client time {client_text!r}")
        try:
            context = json.loads(row.get("context") or "null")
        except json.JSONDecodeError:
            context = None
        if not isinstance(context, dict) or context.get("ip") != "127.0.0.1":
            problems.append(f"context.ip is not 127.0.0.1: context {row.get('context')!r}")
        elif "library" not in context:
            problems.append(f"the client's context.library was lost: {row.get('context')!r}")
        for p in problems:
            report.fail(f"{label}: {p}")
    if receipt_missing:
        report.fail(
            f"{len(receipt_missing)} of {len(calls)} rows have no received_at: the fields added "
            f"on receipt (SPEC 10.3) are missing (e.g. {receipt_missing[0]})"
        )
    report.facts.append(f"{landed}/{len(calls)} calls landed once")


def check_access(
    report: Report,
    entries: list[dict[str, Any]],
    expected_paths: set[str],
    allowed_503: int = 0,
    want_preflight: bool = False,
) -> None:
    if not entries:
        report.fail("no request reached the API")
        return
    posts = [e for e in entries if e["method"] == "POST"]
    preflights = [e for e in entries if e.get("preflight")]
    statuses: dict[str, int] = {}
    for e in entries:
        key = f"{e['method']} {e['path']} {e['status']}"
        statuses[key] = statuses.get(key, 0) + 1
    report.facts.append(", ".join(f"{k} x{n}" for k, n in sorted(statuses.items())))
    for e in entries:
        if e.get("preflight") or e["method"] == "POST":
            continue
        if e["method"] == "OPTIONS" and e.get("acr_method") and e["status"] == 404:
            report.fail(
                f"CORS preflight OPTIONS {e['path']} answered 404 by API Gateway: the HttpApi has "
                f"no CorsConfiguration (nor an OPTIONS route)"
            )
        else:
            report.fail(f"unexpected {e['method']} {e['path']} (status {e['status']})")
    paths = {e["path"] for e in posts}
    if paths - expected_paths:
        report.fail(f"POSTs to unexpected paths: {sorted(paths - expected_paths)}")
    if expected_paths - paths:
        report.fail(f"no POST to {sorted(expected_paths - paths)}")
    bad = [e for e in posts if e["status"] != 200]
    unavailable = [e for e in bad if e["status"] == 503 and e.get("outcome") == "response"]
    if len(unavailable) > allowed_503:
        report.fail(f"{len(unavailable)} POSTs answered 503, expected {allowed_503}")
    if allowed_503 and not unavailable:
        report.fail("the injected S3 failure did not produce a 503 (the retry was not tested)")
    for e in bad:
        if e in unavailable[:allowed_503]:
            continue
        if e.get("route") is None and e["status"] == 404:
            report.fail(f"POST {e['path']} answered 404 by API Gateway: no route of template.yaml takes it")
        elif e.get("invoked"):
            report.fail(
                f"POST {e['path']} answered {e['status']} (function outcome: {e.get('outcome')}; "
                f"route {e.get('route')})"
            )
        else:
            report.fail(f"POST {e['path']} answered {e['status']} by API Gateway (route {e.get('route')})")
    if want_preflight and not preflights:
        report.fail("no CORS preflight reached the API (was the page really cross-origin?)")
    for e in preflights:
        headers = {k.lower(): v for k, v in (e.get("response_headers") or {}).items()}
        if e["status"] != 204 or "access-control-allow-origin" not in headers:
            report.fail(
                f"CORS preflight {e['path']} from {e.get('origin')} asking for "
                f"{e.get('acr_method')} with headers [{e.get('acr_headers') or ''}] was refused "
                f"(status {e['status']}, no Access-Control-Allow-Origin): check AllowHeaders/"
                f"AllowMethods/AllowOrigins of the HttpApi's CorsConfiguration"
            )
    if preflights and any(e.get("invoked") for e in preflights):
        report.fail("a CORS preflight was passed to the function")


# --------------------------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------------------------


def run_client(argv: list[str], out: Path, log: Path, timeout: float) -> dict[str, Any]:
    out.unlink(missing_ok=True)
    with open(log, "wb") as f:
        try:
            proc = subprocess.run(argv, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, timeout=timeout)
            code: int | str = proc.returncode
        except subprocess.TimeoutExpired:
            code = f"timeout after {timeout:.0f} s"
    try:
        result = json.loads(out.read_text())
    except (OSError, json.JSONDecodeError):
        tail = log.read_text(errors="replace")[-3000:]
        return {"fatal": f"the client wrote no result (exit {code}); its output:\n{tail}"}
    if code != 0 and not result.get("fatal"):
        result["fatal"] = f"the client exited with {code}; see {log}"
    return result


class AccessLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def entries(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]


def main() -> int:  # noqa: C901 - the test plan, in order
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--bin", default="target/debug/sync-to-s3", help="the function binary")
    parser.add_argument("--only", default="python,node,browser,replays")
    parser.add_argument("--out", type=Path, default=Path("out/client-tests"))
    parser.add_argument("--template", default="template.yaml")
    args = parser.parse_args()
    only = [c.strip() for c in args.only.split(",") if c.strip()]
    out = (ROOT / args.out).resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    binary = (ROOT / args.bin).resolve()
    if not os.access(binary, os.X_OK):
        print(f"FAIL setup: {binary} is not an executable (cargo build --locked --bin sync-to-s3)")
        return 1

    run_id = secrets.token_hex(4)
    env = dict(os.environ)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        env.pop(name, None)
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
    )
    servers: list[Server] = []
    reports: list[Report] = []
    try:
        aws = Server("local AWS", [PY, str(SCRIPTS / "local_aws" / "local_aws.py"), "--keep-alive"], out / "local-aws.log", env)
        servers.append(aws)
        endpoint = f"http://127.0.0.1:{aws.port}"
        env["AWS_ENDPOINT_URL"] = endpoint
        s3 = s3_client(endpoint)
        s3.create_bucket(Bucket=BUCKET)
        # As a deployer does: the write keys go into the SecureString the template names
        # (SecretsParameterName), stored with the binary's own `secrets` command; the template
        # keeps AllowAnonymous false, so without them the function would refuse to start.
        stored = subprocess.run(
            [str(binary), "secrets", "--parameter", SECRETS_PARAMETER,
             "--write-key", WRITE_KEY, "--write-key", REPLAY_WRITE_KEY],
            env=env, capture_output=True, text=True, timeout=60,
        )
        if stored.returncode != 0:
            print(f"FAIL setup: sync-to-s3 secrets: {stored.stderr.strip()}")
            return 1

        fn_env = dict(env, SYNC_CONFIG=json.dumps(CONFIG), RUST_BACKTRACE="1")
        access = AccessLog(out / "access.jsonl")
        gateway = Server(
            "local API Gateway",
            [
                PY,
                str(SCRIPTS / "local_apigw.py"),
                "--template",
                args.template,
                "--function",
                str(binary),
                "--parameter",
                f"BucketName={BUCKET}",
                "--parameter",
                f"SecretsParameterName={SECRETS_PARAMETER}",
                "--log",
                str(out / "function.log"),
                "--access-log",
                str(access.path),
                "--verbose",
            ],
            out / "local-apigw.log",
            fn_env,
        )
        servers.append(gateway)
        api = f"http://127.0.0.1:{gateway.port}"

        results: dict[str, tuple[dict[str, Any], list[dict[str, Any]], tuple[int, int]]] = {}
        node = shutil.which("node") or "node"
        node_modules = CLIENTS / "node_modules"
        plan = {
            "python": (
                "gzip, clock 1 h behind",
                [PY, str(CLIENTS / "python_client.py"), "--api", api, "--write-key", WRITE_KEY,
                 "--run-id", run_id, "--clock-offset-s", str(-HOUR_MS // 1000)],
                120,
            ),
            "node": (
                "flushAt 3",
                [node, str(CLIENTS / "node_client.mjs"), "--api", api, "--write-key", WRITE_KEY,
                 "--run-id", run_id],
                120,
            ),
            "browser": (
                "Chromium, page on another origin, clock 1 h ahead",
                [node, str(CLIENTS / "browser_client.mjs"), "--api-host", f"127.0.0.1:{gateway.port}",
                 "--write-key", WRITE_KEY, "--run-id", run_id, "--aws-endpoint", endpoint,
                 "--clock-offset-ms", str(HOUR_MS)],
                300,
            ),
        }
        replays: list[dict[str, Any]] = []
        for name in only:
            if name == "replays":
                report = Report(name, "byte-exact requests of tests/clients/replays")
                reports.append(report)
                before = len(access.entries())
                start_ms = int(time.time() * 1000)
                replays = send_replays(report, gateway.port)
                end_ms = int(time.time() * 1000)
                time.sleep(0.2)  # the access log line is written after the response
                results[name] = ({}, access.entries()[before:], (start_ms, end_ms))
                continue
            if name not in plan:
                print(f"FAIL setup: unknown client {name!r} (python, node, browser, replays)")
                return 1
            description, argv, timeout = plan[name]
            report = Report(name, description)
            reports.append(report)
            if name in ("node", "browser") and not (node_modules / "@segment").is_dir():
                report.fail(f"{node_modules} is missing: npm ci --prefix tests/clients")
                continue
            before = len(access.entries())
            start_ms = int(time.time() * 1000)
            result = run_client(argv + ["--out", str(out / f"{name}.json")], out / f"{name}.json",
                                out / f"{name}.log", timeout)
            end_ms = int(time.time() * 1000)
            time.sleep(0.2)  # the access log line is written after the response
            entries = access.entries()[before:]
            results[name] = (result, entries, (start_ms, end_ms))
            if result.get("fatal"):
                fatal = result["fatal"].strip()
                short = fatal if len(fatal) <= 700 else f"{fatal[:700]} ... (see {out / name}.json)"
                report.fail(f"the client could not run: {short}")
            if result.get("library"):
                report.description = f"{result['library']}; {report.description}"

        rows, error_lines, keys = read_bucket(s3)
        (out / "objects.txt").write_text("\n".join(keys) + "\n")
        for report in reports:
            if report.name not in results:
                continue
            result, entries, window = results[report.name]
            if report.name == "replays":
                check_replays(report, replays, entries, rows, error_lines,
                              (f"python-{run_id}-", f"node-{run_id}-", "web-"))
                continue
            prefix = {"python": f"python-{run_id}-", "node": f"node-{run_id}-",
                      "browser": "web-"}[report.name]
            for err in result.get("errors") or []:
                report.fail(f"the library reported: {err}")
            if report.name == "python":
                check_access(report, entries, {"/v1/batch"})
                check_rows(report, result, rows, prefix, window, -HOUR_MS)
            elif report.name == "node":
                check_access(report, entries, {"/v1/batch"})
                check_rows(report, result, rows, prefix, window, 0)
            else:
                check_browser(report, result, entries)
                check_rows(report, result, rows, f"web-standard-{run_id}-", window, HOUR_MS)
                check_rows(report, result, rows, f"web-batching-{run_id}-", window, HOUR_MS)
            mine = [line for line in error_lines if prefix in line]
            if mine:
                report.fail(f"{len(mine)} rejected items under _errors/, e.g. {mine[0][:300]}")
        replay_ids = [mid for replay in replays for mid in replay.get("message_ids") or []]
        others = [line for line in error_lines
                  if not any(p in line for p in ("python-", "node-", "web-", *replay_ids))]
        if others:
            reports[-1].fail(f"rejected items under _errors/: {others[0][:300]}")
    except Exception as exc:  # noqa: BLE001 - reported
        report = Report("setup", "local AWS, API Gateway stand-in, function")
        report.fail(f"{type(exc).__name__}: {exc}")
        reports.append(report)
    finally:
        for server in reversed(servers):
            server.stop()

    failed = [r for r in reports if r.failures]
    for report in reports:
        report.print()
    if failed:
        print(f"logs: {out} (function.log, local-apigw.log, access.jsonl, <client>.json/.log)")
        fn_log = out / "function.log"
        if fn_log.exists():
            lines = fn_log.read_text(errors="replace").splitlines()
            loud = [x for x in lines if x.strip() and '"_aws"' not in x and '"INFO"' not in x]
            if loud:
                print("the function's log, last warnings and errors:")
                for line in loud[-8:]:
                    print(f"  {line[:400]}")
            else:
                print("the function logged no warning or error")
    print(f"{len(reports) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


def check_browser(report: Report, result: dict[str, Any], entries: list[dict[str, Any]]) -> None:
    standard = [e for e in entries if e["path"] != "/v1/b"]
    batching = [e for e in entries if e["path"] == "/v1/b"]
    check_access(report, standard, {"/v1/i", "/v1/t", "/v1/p", "/v1/g", "/v1/a"}, allowed_503=1,
                 want_preflight=True)
    check_access(report, batching, {"/v1/b"}, want_preflight=True)
    if result.get("external_requests"):
        report.fail(f"the page tried to reach other hosts: {result['external_requests'][:5]}")
    for failed in result.get("failed") or []:
        report.fail(f"the browser could not complete {failed['method']} {failed['url']}: {failed['error']}")
    cors_errors = [c for c in result.get("console") or [] if "CORS" in c or "Access-Control" in c]
    for line in cors_errors[:5]:
        report.fail(f"browser console: {line[:400]}")
    for err in result.get("page_errors") or []:
        report.fail(f"page error: {err[:300]}")
    posts = [r for r in result.get("requests") or [] if r.get("method") == "POST"]
    if posts:
        with_auth = sum(1 for r in posts if str((r.get("headers") or {}).get("authorization", "")).startswith("Basic "))
        report.facts.append(f"{with_auth}/{len(posts)} POSTs with Authorization: Basic")
    retried = [r for r in posts if (r.get("headers") or {}).get("x-retry-count")]
    retry_preflights = [e for e in entries if "x-retry-count" in (e.get("acr_headers") or "").lower()]
    if retried:
        report.facts.append("the 503 was retried with X-Retry-Count and delivered")
    elif not retry_preflights:
        report.fail("analytics-next never retried the request that got 503")


# --------------------------------------------------------------------------------------------
# Replays
# --------------------------------------------------------------------------------------------


def send_replays(report: Report, port: int) -> list[dict[str, Any]]:
    """Send every replay file's request as it is; return the replays, each with what happened."""
    import base64
    import gzip
    import http.client

    files = sorted(REPLAYS.glob("*.json"))
    if not files:
        report.fail(f"no replay file in {REPLAYS}")
        return []
    replays: list[dict[str, Any]] = []
    for path in files:
        replay: dict[str, Any] = {"file": path.stem}
        replays.append(replay)
        try:
            spec = json.loads(path.read_text(encoding="utf-8"))
            if "body_base64" in spec:
                body = base64.b64decode(spec["body_base64"], validate=True)
            else:
                body = spec["body"].encode("utf-8")
            headers: dict[str, str] = dict(spec["headers"])
            replay.update(
                library=spec.get("library") or path.stem,
                method=spec["method"],
                path=spec["path"],
                message_ids=[str(m) for m in spec["message_ids"]],
                expect_status=int(spec["expect_status"]),
            )
            if spec.get("write_key") != REPLAY_WRITE_KEY:
                report.fail(f"{path.name}: write_key {spec.get('write_key')!r}, the driver accepts "
                            f"{REPLAY_WRITE_KEY!r} (replays/README.md)")
            # What the events are, from the body as the function will read it.
            text = gzip.decompress(body) if spec.get("content_encoding") == "gzip" else body
            parsed = json.loads(text.decode("utf-8"))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            report.fail(f"{path.name}: unreadable replay file: {type(exc).__name__}: {exc}")
            replay["broken"] = True
            continue
        replay["parsed"] = parsed
        batch = parsed.get("batch") if isinstance(parsed, dict) else None
        events = batch if isinstance(batch, list) else parsed if isinstance(parsed, list) else [parsed]
        replay["events"] = [e for e in events if isinstance(e, dict)]
        body_ids = [str(e.get("messageId")) for e in replay["events"]]
        if body_ids != replay["message_ids"]:
            report.fail(f"{path.name}: message_ids {replay['message_ids']} are not the body's "
                        f"messageIds {body_ids}")

        # The request line and headers exactly as the file gives them: http.client adds nothing
        # but Host (skip_host, skip_accept_encoding) and, when the file has none, Content-Length.
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        replay["start_ms"] = int(time.time() * 1000)
        try:
            conn.putrequest(replay["method"], replay["path"], skip_host=True,
                            skip_accept_encoding=True)
            conn.putheader("Host", f"127.0.0.1:{port}")
            for name, value in headers.items():
                if name.lower() != "host":
                    conn.putheader(name, value)
            if not any(n.lower() in ("content-length", "transfer-encoding") for n in headers):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            response = conn.getresponse()
            replay["status"] = response.status
            replay["response"] = response.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException) as exc:
            replay["status"] = None
            report.fail(f"{path.name}: {replay['method']} {replay['path']} failed: "
                        f"{type(exc).__name__}: {exc}")
        finally:
            conn.close()
            replay["end_ms"] = int(time.time() * 1000)
        if replay["status"] is not None and replay["status"] != replay["expect_status"]:
            report.fail(
                f"{path.name}: {replay['method']} {replay['path']} answered {replay['status']}, "
                f"expected {replay['expect_status']}: {replay['response'][:300]!r}"
            )
    return replays


def check_replays(
    report: Report,
    replays: list[dict[str, Any]],
    entries: list[dict[str, Any]],
    rows: list[dict[str, str]],
    error_lines: list[str],
    other_prefixes: tuple[str, ...],
) -> None:
    sent = [r for r in replays if not r.get("broken")]
    if all(r.get("expect_status") == 200 for r in sent):
        check_access(report, entries, {r["path"] for r in sent})
    by_id: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_id.setdefault(row.get("message_id", ""), []).append(row)
    all_ids = {mid for r in replays for mid in r.get("message_ids") or []}
    stray = sorted(
        mid for mid in by_id
        if mid not in all_ids and not any(mid.startswith(p) for p in other_prefixes)
    )
    if stray:
        report.fail(f"rows with unknown message ids: {stray[:10]}")
    total = landed = 0
    for replay in sent:
        name = replay["file"]
        parsed = replay["parsed"]
        batch_level = parsed if isinstance(parsed, dict) and isinstance(parsed.get("batch"), list) else {}
        batch_sent_at = batch_level.get("sentAt")
        batch_context = batch_level.get("context")
        if isinstance(batch_level.get("messageId"), str) and batch_level["messageId"] in by_id:
            report.fail(f"{name}: the batch's own messageId {batch_level['messageId']} landed as a row")
        events = {str(e.get("messageId")): e for e in replay["events"]}
        window = (replay["start_ms"], replay["end_ms"])
        for mid in replay["message_ids"]:
            total += 1
            label = f"{name} {mid}"
            found = by_id.get(mid, [])
            if len(found) != 1:
                report.fail(f"{label}: landed {len(found)} times, expected once")
                if not found:
                    continue
            landed += 1
            row = found[0]
            ev = events.get(mid) or {}
            for column, key in (("type", "type"), ("event", "event"), ("name", "name"),
                                ("user_id", "userId"), ("group_id", "groupId"),
                                ("previous_id", "previousId")):
                value = ev.get(key)
                if isinstance(value, str) and row.get(column) != value:
                    report.fail(f"{label}: {column} is {row.get(column)!r}, sent {value!r}")
            if row.get("write_key") and not isinstance(ev.get("writeKey"), str):
                report.fail(f"{label}: the batch's writeKey was copied into the event (SPEC 10.1)")

            # SPEC 10.3: fields added on receipt.
            problems: list[str] = []
            received = row.get("received_at", "")
            received_ms = parse_ms(received)
            if not received:
                problems.append("no received_at: the fields added on receipt (SPEC 10.3) are missing")
            elif not RECEIPT_FORMAT.match(received) or received_ms is None:
                problems.append(f"received_at {received!r} is not RFC 3339 UTC with 3 fractional digits")
            elif not window[0] - 1000 <= received_ms <= window[1] + 1000:
                problems.append(f"received_at {received} is not the arrival time "
                                f"({format_ms(window[0])} .. {format_ms(window[1])})")
            sent_at_text = ev.get("sentAt") if ev.get("sentAt") is not None else batch_sent_at
            if sent_at_text is not None and row.get("sent_at") != str(sent_at_text):
                problems.append(f"sent_at {row.get('sent_at')!r}, sent {sent_at_text!r}")
            client_text = ev.get("originalTimestamp") or ev.get("timestamp")
            sent_ms, client_ms = parse_ms(sent_at_text), parse_ms(client_text)
            if sent_ms is not None and client_ms is not None:
                if row.get("original_timestamp") != client_text:
                    problems.append(f"original_timestamp {row.get('original_timestamp')!r}, "
                                    f"client's time {client_text!r}")
                if received_ms is not None:
                    corrected = received_ms - (sent_ms - client_ms)
                    if row.get("timestamp") != format_ms(corrected):
                        problems.append(
                            f"timestamp {row.get('timestamp')!r}, expected {format_ms(corrected)} = "
                            f"receivedAt {received} - (sentAt {sent_at_text} - client time "
                            f"{client_text})"
                        )
            elif client_text is None and received and row.get("timestamp") != received:
                problems.append(f"timestamp {row.get('timestamp')!r}, expected receivedAt {received}")
            # context: the batch's merged under the event's (SPEC 1), then context.ip (10.3 rule 6).
            context_sent: Any = ev.get("context")
            if isinstance(batch_context, dict) and (context_sent is None or isinstance(context_sent, dict)):
                context_sent = {**batch_context, **(context_sent or {})}
            try:
                context = json.loads(row.get("context") or "null")
            except json.JSONDecodeError:
                context = None
            if context_sent is None or isinstance(context_sent, dict):
                want_ip = (context_sent or {}).get("ip", "127.0.0.1")
                if not isinstance(context, dict) or context.get("ip") != want_ip:
                    problems.append(f"context.ip is not {want_ip}: context {row.get('context')!r}")
                elif isinstance(context_sent, dict) and "library" in context_sent and (
                    context.get("library") != context_sent["library"]
                ):
                    problems.append(f"context.library {context.get('library')!r}, sent "
                                    f"{context_sent['library']!r}")
            for p in problems:
                report.fail(f"{label}: {p}")
        mine = [line for line in error_lines if any(mid in line for mid in replay["message_ids"])]
        if mine:
            report.fail(f"{name}: {len(mine)} rejected items under _errors/, e.g. {mine[0][:300]}")
    libraries = [str(r.get("library", r["file"])).split(" (")[0] for r in sent]
    report.description = f"{len(replays)} byte-exact requests: {', '.join(libraries)}"
    answered = sum(1 for r in sent if r.get("status") == r.get("expect_status"))
    report.facts.insert(0, f"{answered}/{len(replays)} answered as expected")
    report.facts.append(f"{landed}/{total} events landed once")


if __name__ == "__main__":
    sys.exit(main())
