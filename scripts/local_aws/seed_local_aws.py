#!/usr/bin/env python3
"""Seed and inspect the local AWS (scripts/local_aws/local_aws.py or any moto) for sync-to-s3's demo, tests.

Seed: create the bucket (an existing one is fine) and, optionally, an SSM SecureString parameter
holding a file's content (for ``SYNC_CONFIG_PARAMETER``)::

    seed_local_aws.py --endpoint http://127.0.0.1:PORT --bucket my-bucket \\
        [--parameter /sync-to-s3/config --parameter-file events/config.json]

Dump: download every object of the bucket to DIR/<key> and print one line per object,
``key<TAB>size<TAB>content-type``, in key order::

    seed_local_aws.py --endpoint http://127.0.0.1:PORT --bucket my-bucket --dump out/s3

Objects are saved as stored (a ``.gz`` object stays compressed). The credentials are the
``testing`` ones (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` from the environment if set),
S3 addressing is path-style, and only a loopback endpoint is accepted: this tool never talks to
real AWS. Exit status: 0 on success, 1 when an AWS call fails, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

DEFAULT_REGION = "us-east-1"


def loopback_endpoint(url: str) -> str:
    """The URL if it is http(s) on a loopback host, else argparse's usage error."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme not in ("http", "https") or not loopback:
        raise argparse.ArgumentTypeError(f"not a loopback http(s) URL: {url!r}")
    return url


def clients(endpoint: str, region: str) -> tuple[Any, Any]:
    # Never look for credentials anywhere else (no ~/.aws, no instance metadata).
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(
        aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=os.environ.get("AWS_SESSION_TOKEN"),
        region_name=region,
    )
    config = Config(
        s3={"addressing_style": "path"},
        retries={"mode": "standard", "total_max_attempts": 3},
        connect_timeout=5,
        read_timeout=30,
    )
    return (
        session.client("s3", endpoint_url=endpoint, config=config),
        session.client("ssm", endpoint_url=endpoint, config=config),
    )


def seed(
    s3: Any, ssm: Any, bucket: str, region: str, parameter: str | None, file: Path | None
) -> None:
    from botocore.exceptions import ClientError

    kwargs: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        s3.create_bucket(**kwargs)
        print(f"created bucket {bucket}", file=sys.stderr)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in (
            "BucketAlreadyOwnedByYou",
            "BucketAlreadyExists",
        ):
            raise
        print(f"bucket {bucket} already exists", file=sys.stderr)
    if parameter is not None and file is not None:
        value = file.read_text(encoding="utf-8")
        ssm.put_parameter(Name=parameter, Value=value, Type="SecureString", Overwrite=True)
        print(f"put SecureString parameter {parameter} ({len(value)} chars)", file=sys.stderr)


def local_path(root: Path, key: str) -> Path:
    """Where an object goes under root; refuses keys that would escape it."""
    parts = PurePosixPath(key).parts
    if not parts or key.startswith("/") or any(part in ("..", ".") for part in parts):
        raise ValueError(f"refusing to write object key {key!r} outside {root}")
    return root.joinpath(*parts)


def dump(s3: Any, bucket: str, root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            key = item["Key"]
            target = local_path(root, key)
            response = s3.get_object(Bucket=bucket, Key=key)
            data = response["Body"].read()
            if key.endswith("/"):
                target.mkdir(parents=True, exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            content_type = response.get("ContentType", "")
            print(f"{key}\t{len(data)}\t{content_type}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "--endpoint", required=True, type=loopback_endpoint, help="http://127.0.0.1:PORT"
    )
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", DEFAULT_REGION))
    parser.add_argument("--parameter", help="SSM parameter name to create as SecureString")
    parser.add_argument(
        "--parameter-file", type=Path, help="file whose content is the parameter's value"
    )
    parser.add_argument(
        "--dump", type=Path, metavar="DIR", help="download every object to DIR/<key>"
    )
    args = parser.parse_args(argv)
    if (args.parameter is None) != (args.parameter_file is None):
        parser.error("--parameter and --parameter-file go together")
    if args.dump is not None and args.parameter is not None:
        parser.error("--dump does not seed: use it without --parameter")

    from botocore.exceptions import BotoCoreError, ClientError

    s3, ssm = clients(args.endpoint, args.region)
    try:
        if args.dump is not None:
            dump(s3, args.bucket, args.dump)
        else:
            seed(s3, ssm, args.bucket, args.region, args.parameter, args.parameter_file)
    except (BotoCoreError, ClientError, OSError, ValueError) as exc:
        print(f"seed_local_aws: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
