#!/usr/bin/env python3
"""Checks for scripts/local_aws/local_aws.py (moto plus fault injection) and scripts/local_aws/seed_local_aws.py.

Run from the project root with the project's venv::

    .venv/bin/python scripts/local_aws/test_local_aws.py

It starts its own local_aws.py on a free port (stdin on a pipe, so it cannot outlive this
script), talks to it with boto3 and raw HTTP on 127.0.0.1 only, and stops it. The last line is
``N passed, M failed``; the exit status is non-zero when anything failed.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).resolve().parent
LOCAL_AWS = SCRIPTS / "local_aws.py"
SEED = SCRIPTS / "seed_local_aws.py"
sys.path.insert(0, str(SCRIPTS))

os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_REGION="us-east-1",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_EC2_METADATA_DISABLED="true",
)
os.environ.pop("AWS_SESSION_TOKEN", None)
os.environ.pop("AWS_PROFILE", None)

import boto3  # noqa: E402
import botocore.exceptions  # noqa: E402
from botocore.config import Config  # noqa: E402

import local_aws  # noqa: E402

BUCKET = "sync-to-s3-test"
ROLE_ARN = "arn:aws:iam::123456789012:role/segment-s3"


# --------------------------------------------------------------------------------------------
# Server process
# --------------------------------------------------------------------------------------------


class Server:
    """local_aws.py in a child process, with a pipe on stdin and stderr in a temporary file."""

    def __init__(self, *args: str) -> None:
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, str(LOCAL_AWS), "--port", "0", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
        )
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 60)
        line = self.proc.stdout.readline().decode() if ready else ""
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"local_aws.py did not print PORT: {line!r}\n{self.log()}")
        self.port = int(line.split()[1])
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")

    def wait(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            if self.wait(10) is None:
                self.proc.kill()
                self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()


SERVER: Server


def fault_api(path: str, doc: Any = None, method: str = "POST") -> tuple[int, Any]:
    data = json.dumps(doc).encode() if doc is not None else (b"" if method == "POST" else None)
    request = urllib.request.Request(SERVER.endpoint + path, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def add_rule(**rule: Any) -> int:
    status, doc = fault_api("/_fault/add", rule)
    assert status == 200, (status, doc)
    return int(doc["id"])


def request_log() -> list[dict[str, Any]]:
    status, doc = fault_api("/_fault/log", method="GET")
    assert status == 200
    return list(doc)


def client(service: str, attempts: int = 3, read_timeout: float = 10) -> Any:
    config = Config(
        s3={"addressing_style": "path"},
        retries={"mode": "standard", "total_max_attempts": attempts},
        connect_timeout=3,
        read_timeout=read_timeout,
    )
    return boto3.client(
        service,
        endpoint_url=SERVER.endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    )


def raw(
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    chunks: list[bytes] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", SERVER.port, timeout=10)
    try:
        if chunks is not None:
            conn.putrequest(method, path)
            for name, value in (headers or {}).items():
                conn.putheader(name, value)
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            for chunk in chunks:
                conn.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            conn.send(b"0\r\n\r\n")
        else:
            conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def ensure_bucket() -> None:
    try:
        client("s3").create_bucket(Bucket=BUCKET)
    except botocore.exceptions.ClientError as exc:
        assert exc.response["Error"]["Code"] == "BucketAlreadyOwnedByYou", exc


def error_code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response["Error"]["Code"])


# --------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------

CHECKS: list[tuple[str, Callable[[], None]]] = []


def check(fn: Callable[[], None]) -> Callable[[], None]:
    CHECKS.append((fn.__name__, fn))
    return fn


@check
def service_detection() -> None:
    def env(**kw: Any) -> dict[str, Any]:
        return {"REQUEST_METHOD": "POST", "PATH_INFO": "/", "QUERY_STRING": "", **kw}

    def detect(environ: dict[str, Any], body: bytes = b"") -> tuple[str, str | None]:
        params = local_aws.query_params(environ, body)
        return local_aws.detect_service(environ, params), local_aws.detect_target(environ, params)

    auth = (
        "AWS4-HMAC-SHA256 Credential=AKID/20261125/us-east-1/{}/aws4_request, "
        "SignedHeaders=host, Signature=ab"
    )
    assert detect(env(HTTP_AUTHORIZATION=auth.format("s3"))) == ("s3", None)
    assert detect(
        env(HTTP_AUTHORIZATION=auth.format("ssm"), HTTP_X_AMZ_TARGET="AmazonSSM.GetParameter")
    ) == ("ssm", "AmazonSSM.GetParameter")
    form = env(CONTENT_TYPE="application/x-www-form-urlencoded; charset=utf-8")
    assert detect(
        dict(form, HTTP_AUTHORIZATION=auth.format("sts")), b"Action=AssumeRole&Version=2011-06-15"
    ) == ("sts", "AssumeRole")
    assert detect(env(HTTP_X_AMZ_TARGET="AmazonSSM.PutParameter")) == (
        "ssm",
        "AmazonSSM.PutParameter",
    )
    assert detect(form, b"Action=AssumeRole&RoleArn=x") == ("sts", "AssumeRole")
    assert detect(env(REQUEST_METHOD="PUT", PATH_INFO="/b/k")) == ("s3", None)
    presigned = (
        "X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKID%2F20261125%2Fus-east-1%2Fs3%2Faws4_request"
    )
    assert detect(env(REQUEST_METHOD="GET", QUERY_STRING=presigned)) == ("s3", None)


@check
def stdout_has_only_the_port_line() -> None:
    assert SERVER.proc.stdout is not None
    ready, _, _ = select.select([SERVER.proc.stdout], [], [], 5)
    assert ready and SERVER.proc.stdout.read() == b"", "stdout should be at EOF after the PORT line"


@check
def s3_bucket_put_get_list() -> None:
    s3 = client("s3")
    ensure_bucket()
    s3.put_object(Bucket=BUCKET, Key="track/a.csv", Body=b'"event"\n"x"\n', ContentType="text/csv")
    got = s3.get_object(Bucket=BUCKET, Key="track/a.csv")
    assert got["Body"].read() == b'"event"\n"x"\n'
    assert got["ContentType"] == "text/csv"
    head = s3.head_object(Bucket=BUCKET, Key="track/a.csv")
    assert head["ContentLength"] == 12
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="track/")["Contents"]]
    assert keys == ["track/a.csv"], keys
    puts = [e for e in request_log() if e["method"] == "PUT"]
    assert puts and puts[-1]["service"] == "s3" and puts[-1]["status"] == 200, puts
    assert puts[-1]["path"] == f"/{BUCKET}/track/a.csv", puts[-1]


@check
def s3_missing_bucket_is_nosuchbucket() -> None:
    try:
        client("s3").put_object(Bucket="no-such-bucket-here", Key="k", Body=b"x")
    except botocore.exceptions.ClientError as exc:
        assert error_code(exc) == "NoSuchBucket", exc.response
        assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    else:
        raise AssertionError("PutObject to a missing bucket succeeded")


@check
def s3_put_with_default_checksum_and_streaming_body() -> None:
    s3 = client("s3")
    ensure_bucket()
    data = os.urandom(300_000)
    s3.put_object(Bucket=BUCKET, Key="bin/a", Body=data)  # CRC32 checksum, Expect: 100-continue

    class Unseekable:
        def __init__(self, payload: bytes) -> None:
            self.payload, self.pos = payload, 0

        def read(self, n: int = -1) -> bytes:
            end = len(self.payload) if n is None or n < 0 else self.pos + n
            piece, self.pos = self.payload[self.pos : end], min(end, len(self.payload))
            return piece

    s3.upload_fileobj(Unseekable(data), BUCKET, "bin/b")
    for key in ("bin/a", "bin/b"):
        got = s3.get_object(Bucket=BUCKET, Key=key, ChecksumMode="ENABLED")
        assert got["Body"].read() == data, key


@check
def s3_http_chunked_upload() -> None:
    ensure_bucket()
    status, _, body = raw(
        "PUT",
        f"/{BUCKET}/chunked.txt",
        headers={"Content-Type": "text/plain"},
        chunks=[b"hello, ", b"chunked ", b"world\n"],
    )
    assert status == 200, (status, body)
    got = client("s3").get_object(Bucket=BUCKET, Key="chunked.txt")
    assert got["Body"].read() == b"hello, chunked world\n"
    entry = [e for e in request_log() if e["method"] == "PUT"][-1]
    assert entry["path"] == f"/{BUCKET}/chunked.txt" and entry["status"] == 200, entry


@check
def s3_aws_chunked_upload_with_trailer() -> None:
    """The Rust SDK's streaming upload: aws-chunked, CRC32 in a trailer (also HTTP-chunked)."""
    ensure_bucket()
    data = b"a,b\n" * 5000
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    encoded = (
        f"{len(data):x}\r\n".encode()
        + data
        + b"\r\n0\r\n"
        + f"x-amz-checksum-crc32:{crc}\r\n\r\n".encode()
    )
    headers = {
        "Content-Encoding": "aws-chunked",
        "Content-Type": "text/csv",
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "x-amz-decoded-content-length": str(len(data)),
        "x-amz-trailer": "x-amz-checksum-crc32",
        "x-amz-sdk-checksum-algorithm": "CRC32",
    }
    status, _, body = raw(
        "PUT",
        f"/{BUCKET}/aws-chunked.csv",
        body=encoded,
        headers={**headers, "Content-Length": str(len(encoded))},
    )
    assert status == 200, (status, body)
    status, _, body = raw(
        "PUT",
        f"/{BUCKET}/aws-chunked-te.csv",
        headers=headers,
        chunks=[encoded[:7000], encoded[7000:]],
    )
    assert status == 200, (status, body)
    s3 = client("s3")
    for key in ("aws-chunked.csv", "aws-chunked-te.csv"):
        got = s3.get_object(Bucket=BUCKET, Key=key, ChecksumMode="ENABLED")
        assert got["Body"].read() == data, key
        assert got["ContentType"] == "text/csv", got["ContentType"]
        assert got.get("ChecksumCRC32") in (None, crc), got.get("ChecksumCRC32")


@check
def sts_assume_role_with_external_id() -> None:
    sts = client("sts")
    creds = sts.assume_role(
        RoleArn=ROLE_ARN, RoleSessionName="sync-to-s3", ExternalId="ext-secret-1"
    )["Credentials"]
    assert creds["AccessKeyId"] and creds["SecretAccessKey"] and creds["SessionToken"]
    with urllib.request.urlopen(SERVER.endpoint + "/moto-api/data.json", timeout=10) as response:
        data = json.load(response)
    roles = data["sts"]["AssumedRole"]
    assert any(
        r["external_id"] == "ext-secret-1"
        and r["session_name"] == "sync-to-s3"
        and r["role_arn"] == ROLE_ARN
        for r in roles
    ), roles
    entry = [e for e in request_log() if e["service"] == "sts"][-1]
    assert (
        entry["target"] == "AssumeRole" and entry["method"] == "POST" and entry["status"] == 200
    ), entry


@check
def ssm_securestring_with_decryption() -> None:
    ssm = client("ssm")
    value = json.dumps({"s3_aws_bucket_name": BUCKET})
    ssm.put_parameter(Name="/sync-to-s3/config", Value=value, Type="SecureString", Overwrite=True)
    got = ssm.get_parameter(Name="/sync-to-s3/config", WithDecryption=True)["Parameter"]
    assert got["Value"] == value and got["Type"] == "SecureString", got
    try:
        ssm.get_parameter(Name="/sync-to-s3/missing", WithDecryption=True)
    except ssm.exceptions.ParameterNotFound:
        pass
    else:
        raise AssertionError("a missing parameter was found")
    targets = [e["target"] for e in request_log() if e["service"] == "ssm"]
    assert targets[-3:] == [
        "AmazonSSM.PutParameter",
        "AmazonSSM.GetParameter",
        "AmazonSSM.GetParameter",
    ], targets


@check
def fault_slowdown_twice_then_success() -> None:
    ensure_bucket()
    fault_api("/_fault/reset-log")
    add_rule(
        service="s3",
        method="PUT",
        path_regex=r"/slow\.csv",
        action="error",
        status=503,
        code="SlowDown",
        message="Please reduce your request rate.",
        times=2,
    )
    client("s3", attempts=3).put_object(Bucket=BUCKET, Key="slow.csv", Body=b"x\n")
    puts = [e for e in request_log() if e["method"] == "PUT"]
    assert [(e["status"], e["fault"]) for e in puts] == [
        (503, "error"),
        (503, "error"),
        (200, None),
    ], puts
    rules = fault_api("/_fault/rules", method="GET")[1]
    assert rules[0]["times"] == 0 and rules[0]["fired"] == 2, rules


@check
def fault_s3_error_wire_format() -> None:
    ensure_bucket()
    add_rule(
        service="s3",
        method="GET",
        action="error",
        status=503,
        code="SlowDown",
        message="Please reduce your request rate.",
        times=1,
    )
    status, headers, body = raw("GET", f"/{BUCKET}/anything")
    assert status == 503 and headers["content-type"] == "application/xml", (status, headers)
    assert headers.get("x-amz-request-id"), headers
    text = body.decode()
    assert text.startswith(
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
        "<Message>Please reduce your request rate.</Message><RequestId>"
    ), text
    assert "<HostId>" in text and text.endswith("</HostId></Error>"), text


@check
def fault_500_forever() -> None:
    ensure_bucket()
    fault_api("/_fault/reset-log")
    add_rule(
        service="s3",
        method="PUT",
        action="error",
        status=500,
        code="InternalError",
        message="We encountered an internal error. Please try again.",
        times=-1,
    )
    try:
        client("s3", attempts=3).put_object(Bucket=BUCKET, Key="never.csv", Body=b"x\n")
    except botocore.exceptions.ClientError as exc:
        assert error_code(exc) == "InternalError", exc.response
        assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    else:
        raise AssertionError("PutObject succeeded against a 500-forever rule")
    puts = [e for e in request_log() if e["method"] == "PUT"]
    assert [e["status"] for e in puts] == [500, 500, 500], puts
    # Still firing: a GET is not affected, a further PUT is.
    assert client("s3").head_bucket(Bucket=BUCKET)["ResponseMetadata"]["HTTPStatusCode"] == 200
    status, _, _ = raw("PUT", f"/{BUCKET}/never2.csv", body=b"y")
    assert status == 500
    assert fault_api("/_fault/rules", method="GET")[1][0]["times"] == -1


@check
def fault_delay_300ms() -> None:
    ensure_bucket()
    s3 = client("s3")
    s3.put_object(Bucket=BUCKET, Key="delayed.csv", Body=b"d\n")
    add_rule(
        service="s3", method="GET", path_regex="delayed", action="delay", delay_ms=300, times=1
    )
    start = time.monotonic()
    assert s3.get_object(Bucket=BUCKET, Key="delayed.csv")["Body"].read() == b"d\n"
    elapsed = time.monotonic() - start
    assert elapsed >= 0.3, elapsed
    start = time.monotonic()
    s3.get_object(Bucket=BUCKET, Key="delayed.csv")["Body"].read()
    assert time.monotonic() - start < 0.3, "the delay rule fired twice"
    entries = [e for e in request_log() if e["method"] == "GET" and "delayed" in e["path"]]
    assert [(e["fault"], e["status"]) for e in entries[-2:]] == [("delay", 200), (None, 200)], (
        entries
    )


@check
def fault_sts_throttling() -> None:
    add_rule(
        service="sts",
        target="AssumeRole",
        action="error",
        status=400,
        code="Throttling",
        message="Rate exceeded",
        times=1,
    )
    try:
        client("sts", attempts=1).assume_role(
            RoleArn=ROLE_ARN, RoleSessionName="sync-to-s3", ExternalId="ext-secret-2"
        )
    except botocore.exceptions.ClientError as exc:
        assert error_code(exc) == "Throttling", exc.response
        assert exc.response["Error"]["Message"] == "Rate exceeded", exc.response
        assert exc.response["Error"].get("Type") == "Sender", exc.response
        assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    else:
        raise AssertionError("AssumeRole succeeded against a Throttling rule")
    # With retries, one throttle is absorbed; a GetCallerIdentity is never targeted.
    add_rule(
        service="sts", target="AssumeRole", action="error", status=400, code="Throttling", times=1
    )
    sts = client("sts", attempts=3)
    sts.get_caller_identity()
    assert sts.assume_role(
        RoleArn=ROLE_ARN, RoleSessionName="sync-to-s3", ExternalId="ext-secret-2"
    )["Credentials"]
    status, headers, body = raw(
        "POST",
        "/",
        body=b"Action=AssumeRole&Version=2011-06-15",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200, (status, body)  # rules used up
    add_rule(service="sts", action="error", status=400, code="Throttling", message="Rate exceeded")
    status, headers, body = raw(
        "POST",
        "/",
        body=b"Action=AssumeRole&Version=2011-06-15",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 400 and headers["content-type"] == "text/xml", (status, headers)
    assert body.decode().startswith(
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        "<Error><Type>Sender</Type><Code>Throttling</Code>"
        "<Message>Rate exceeded</Message></Error><RequestId>"
    ), body


@check
def fault_ssm_parameter_not_found() -> None:
    ssm = client("ssm", attempts=1)
    ssm.put_parameter(Name="/sync-to-s3/present", Value="v", Type="SecureString", Overwrite=True)
    add_rule(
        service="ssm",
        target="GetParameter",
        action="error",
        status=400,
        code="ParameterNotFound",
        message="Parameter /sync-to-s3/present not found.",
        times=1,
    )
    try:
        ssm.get_parameter(Name="/sync-to-s3/present", WithDecryption=True)
    except ssm.exceptions.ParameterNotFound as exc:
        assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    else:
        raise AssertionError("GetParameter succeeded against a ParameterNotFound rule")
    assert (
        ssm.get_parameter(Name="/sync-to-s3/present", WithDecryption=True)["Parameter"]["Value"]
        == "v"
    )
    add_rule(service="ssm", action="error", status=400, code="ParameterNotFound", message="nope")
    status, headers, body = raw(
        "POST",
        "/",
        body=b'{"Name":"x"}',
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "AmazonSSM.GetParameter",
        },
    )
    assert status == 400 and headers["content-type"] == "application/x-amz-json-1.1", (
        status,
        headers,
    )
    assert headers["x-amzn-errortype"] == "ParameterNotFound", headers
    assert json.loads(body) == {"__type": "ParameterNotFound", "message": "nope"}, body


@check
def fault_reset() -> None:
    ensure_bucket()
    s3 = client("s3")
    s3.put_object(Bucket=BUCKET, Key="reset.csv", Body=b"r\n")
    # What the client sees on the wire: an RST, not an answer and not a clean EOF.
    add_rule(service="s3", method="GET", path_regex="reset", action="reset", times=1)
    with socket.create_connection(("127.0.0.1", SERVER.port), timeout=5) as sock:
        sock.sendall(f"GET /{BUCKET}/reset.csv HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        try:
            data = sock.recv(1024)
        except ConnectionResetError:
            data = None
        assert data is None, f"expected a connection reset, got {data!r}"
    # An SDK without retries fails with a connection error ...
    add_rule(service="s3", method="GET", path_regex="reset", action="reset", times=1)
    try:
        client("s3", attempts=1).get_object(Bucket=BUCKET, Key="reset.csv")
    except botocore.exceptions.HTTPClientError:
        pass
    else:
        raise AssertionError("GetObject succeeded through a reset")
    # ... and one with retries gets through on the second attempt.
    fault_api("/_fault/reset-log")
    add_rule(service="s3", method="GET", path_regex="reset", action="reset", times=1)
    assert (
        client("s3", attempts=3).get_object(Bucket=BUCKET, Key="reset.csv")["Body"].read() == b"r\n"
    )
    entries = request_log()
    assert [(e["fault"], e["status"]) for e in entries] == [("reset", None), (None, 200)], entries
    assert "Traceback" not in SERVER.log(), SERVER.log()


@check
def fault_stall_times_out_the_client() -> None:
    ensure_bucket()
    add_rule(
        service="s3",
        method="PUT",
        action="stall",
        delay_ms=5000,
        status=503,
        code="SlowDown",
        times=1,
    )
    start = time.monotonic()
    try:
        client("s3", attempts=1, read_timeout=1).put_object(
            Bucket=BUCKET, Key="stall.csv", Body=b"s"
        )
    except botocore.exceptions.ReadTimeoutError:
        pass
    else:
        raise AssertionError("PutObject did not time out against a stall")
    assert time.monotonic() - start < 4
    # The stall rule is used up; the server still answers at once.
    client("s3", attempts=1, read_timeout=2).put_object(Bucket=BUCKET, Key="stall.csv", Body=b"s")


@check
def fault_rule_matching() -> None:
    ensure_bucket()
    first = add_rule(
        service="any",
        method="any",
        path_regex=r"\?.*list-type=2",
        action="error",
        status=503,
        code="SlowDown",
        times=1,
    )
    second = add_rule(
        service="s3",
        method="GET",
        path_regex=r"\?.*list-type=2",
        action="error",
        status=500,
        code="InternalError",
        times=1,
    )
    assert second == first + 1
    s3 = client("s3", attempts=1)
    codes = []
    for _ in range(3):
        try:
            s3.list_objects_v2(Bucket=BUCKET)
            codes.append("ok")
        except botocore.exceptions.ClientError as exc:
            codes.append(error_code(exc))
    assert codes == ["SlowDown", "InternalError", "ok"], codes
    # A target never matches S3; a method that differs never matches.
    add_rule(service="s3", target="PutObject", action="error", times=-1)
    add_rule(service="s3", method="DELETE", action="error", times=-1)
    s3.put_object(Bucket=BUCKET, Key="untargeted.csv", Body=b"u")
    # moto's own API is never faulted.
    add_rule(service="any", action="error", times=-1)
    with urllib.request.urlopen(SERVER.endpoint + "/moto-api/data.json", timeout=10) as response:
        assert response.status == 200


@check
def fault_control_api() -> None:
    assert fault_api("/_fault/add", {"action": "explode"})[0] == 400
    assert fault_api("/_fault/add", {"action": "error", "bogus": 1})[0] == 400
    assert fault_api("/_fault/add", {"action": "error", "path_regex": "("})[0] == 400
    assert fault_api("/_fault/add", {"action": "error", "times": "2"})[0] == 400
    assert fault_api("/_fault/nothing", method="GET")[0] == 404
    assert fault_api("/_fault/log")[0] == 405
    rule_id = add_rule(action="error", service="ssm")
    rules = fault_api("/_fault/rules", method="GET")[1]
    assert [r["id"] for r in rules] == [rule_id] and rules[0]["method"] == "any", rules
    assert (
        rules[0]["status"] == 503 and rules[0]["code"] == "SlowDown" and rules[0]["times"] == 1
    ), rules
    assert fault_api("/_fault/clear") == (200, {"cleared": 1})
    assert fault_api("/_fault/rules", method="GET")[1] == []
    client("s3").list_buckets()
    assert request_log()
    assert fault_api("/_fault/reset-log") == (200, {"ok": True})
    assert request_log() == []


@check
def seed_and_dump() -> None:
    bucket = "seed-dump-test"
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp, "config.json")
        config.write_text('{"s3_aws_bucket_name": "seed-dump-test"}\n')
        run = [sys.executable, str(SEED), "--endpoint", SERVER.endpoint, "--bucket", bucket]
        seeded = subprocess.run(
            [*run, "--parameter", "/seed/config", "--parameter-file", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert seeded.returncode == 0, seeded.stderr
        again = subprocess.run(run, capture_output=True, text=True, timeout=60)
        assert again.returncode == 0, again.stderr  # an existing bucket is fine
        value = client("ssm").get_parameter(Name="/seed/config", WithDecryption=True)["Parameter"]
        assert value["Type"] == "SecureString" and value["Value"] == config.read_text(), value
        s3 = client("s3")
        s3.put_object(Bucket=bucket, Key="track/x.csv", Body=b'"a"\n"1"\n', ContentType="text/csv")
        s3.put_object(
            Bucket=bucket,
            Key="_errors/2026-11-25/e.ndjson",
            Body=b"{}\n",
            ContentType="application/x-ndjson",
        )
        out = Path(tmp, "dump")
        dumped = subprocess.run(
            [*run, "--dump", str(out)], capture_output=True, text=True, timeout=60
        )
        assert dumped.returncode == 0, dumped.stderr
        assert dumped.stdout.splitlines() == [
            "_errors/2026-11-25/e.ndjson\t3\tapplication/x-ndjson",
            "track/x.csv\t8\ttext/csv",
        ], dumped.stdout
        assert (out / "track" / "x.csv").read_bytes() == b'"a"\n"1"\n'
        assert (out / "_errors" / "2026-11-25" / "e.ndjson").read_bytes() == b"{}\n"
        missing = subprocess.run(
            [
                sys.executable,
                str(SEED),
                "--endpoint",
                SERVER.endpoint,
                "--bucket",
                "no-such-bucket-x",
                "--dump",
                str(out),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert missing.returncode == 1 and "NoSuchBucket" in missing.stderr, missing
        remote = subprocess.run(
            [
                sys.executable,
                str(SEED),
                "--endpoint",
                "https://s3.amazonaws.com",
                "--bucket",
                bucket,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert remote.returncode == 2, remote


@check
def idle_keep_alive_connections_are_closed_after_the_idle_timeout() -> None:
    server = Server("--idle-timeout", "0.3")
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        for _ in range(2):  # kept alive: both requests go over one connection
            conn.request("GET", "/_fault/rules")
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 200, resp.status
        sock = conn.sock
        assert sock is not None, "the connection was not kept alive"
        time.sleep(0.8)
        # Then closed by the server (an orderly FIN: recv gives b""), as S3 does when idle.
        assert sock.recv(65536) == b""
        conn.close()
    finally:
        server.stop()


def exits_on(trigger: Callable[[Server], None]) -> None:
    server = Server()
    try:
        global SERVER
        saved, SERVER = SERVER, server
        try:
            # A request stalled in flight must not hold the exit up.
            add_rule(action="stall", delay_ms=60_000, times=1)
            stalled = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            stalled.sendall(b"GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            time.sleep(0.3)
        finally:
            SERVER = saved
        trigger(server)
        code = server.wait(10)
        stalled.close()
        assert code == 0, f"exit status {code}\n{server.log()}"
        assert "Traceback" not in server.log(), server.log()
    finally:
        server.stop()


@check
def exits_on_stdin_eof() -> None:
    exits_on(lambda s: s.proc.stdin.close())  # type: ignore[union-attr]


@check
def exits_on_sigterm() -> None:
    exits_on(lambda s: s.proc.send_signal(signal.SIGTERM))


@check
def exits_on_sigint() -> None:
    exits_on(lambda s: s.proc.send_signal(signal.SIGINT))


def main() -> int:
    global SERVER
    SERVER = Server()
    passed = failed = 0
    try:
        for name, fn in CHECKS:
            fault_api("/_fault/clear")
            fault_api("/_fault/reset-log")
            start = time.monotonic()
            try:
                fn()
            except Exception:  # noqa: BLE001 - report every failure and go on
                failed += 1
                print(f"FAIL {name}", flush=True)
                traceback.print_exc(file=sys.stdout)
            else:
                passed += 1
                print(f"ok   {name} ({time.monotonic() - start:.2f} s)", flush=True)
    finally:
        SERVER.stop()
        server_log = SERVER.log()
    if failed and server_log:
        print("--- local_aws.py stderr ---\n" + server_log.rstrip())
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
