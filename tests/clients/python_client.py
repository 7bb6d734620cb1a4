#!/usr/bin/env python3
"""Segment's Python library (segment-analytics-python 2.4.0) sending a known set of calls.

Run by tests/clients/test_real_clients.py with the project's venv::

    .venv/bin/python tests/clients/python_client.py --api http://127.0.0.1:PORT \\
        --write-key KEY --run-id ID [--clock-offset-s -3600] --out RESULT.json

The library is used as an application uses it (``Client(write_key, host=..., gzip=True)``, its
own consumer thread, ``flush()``, ``shutdown()``); it posts gzip-compressed batches to
``<api>/v1/batch``. With ``--clock-offset-s`` the library's clock (``datetime.now`` in its
``client`` and ``request`` modules, which stamp ``timestamp`` and ``sentAt``) runs that many
seconds off, as on a device with a wrong clock; nothing else is changed.

RESULT.json: ``{"client", "library", "calls": [{"messageId", "type", ..., "real_ms"}],
"requests": [{"url", "status", "body"}], "errors": [...]}`` where ``body`` is each request's JSON
as sent (after gunzip) and ``real_ms`` the true time of the call.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
import traceback
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--api", required=True)
    parser.add_argument("--write-key", required=True)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--clock-offset-s", type=float, default=0.0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    result: dict[str, Any] = {"client": "python", "calls": [], "requests": [], "errors": []}
    try:
        run(args, result)
    except Exception:  # noqa: BLE001 - reported to the driver
        result["fatal"] = traceback.format_exc()
    args.out.write_text(json.dumps(result, indent=1))
    return 1 if result.get("fatal") else 0


def run(args: argparse.Namespace, result: dict[str, Any]) -> None:
    import segment.analytics.client as client_module
    import segment.analytics.request as request_module
    from segment.analytics.client import Client
    from segment.analytics.version import VERSION

    result["library"] = f"segment-analytics-python {VERSION}"
    offset = timedelta(seconds=args.clock_offset_s)

    class SkewedDatetime(datetime):
        """datetime whose now() is off by the offset; everything else is datetime's."""

        @classmethod
        def now(cls, tz: Any = None) -> SkewedDatetime:  # type: ignore[override]
            real = datetime.now(tz) + offset
            return cls.combine(real.date(), real.timetz())

    if args.clock_offset_s:
        client_module.datetime = SkewedDatetime  # type: ignore[attr-defined]
        request_module.datetime = SkewedDatetime  # type: ignore[attr-defined]

    session = request_module._session
    real_post = session.post

    def recording_post(url: str, **kwargs: Any) -> Any:
        data = kwargs.get("data") or b""
        if isinstance(data, str):
            data = data.encode()
        headers = kwargs.get("headers") or {}
        if headers.get("Content-Encoding") == "gzip":
            data = gzip.decompress(data)
        entry: dict[str, Any] = {"url": url, "status": None, "body": json.loads(data or b"null")}
        entry["content_encoding"] = headers.get("Content-Encoding")
        result["requests"].append(entry)
        response = real_post(url, **kwargs)
        entry["status"] = response.status_code
        return response

    session.post = recording_post  # type: ignore[method-assign]

    def on_error(error: Exception, batch: Any) -> None:
        result["errors"].append(f"{type(error).__name__}: {error} ({len(batch)} events)")

    client = Client(
        args.write_key,
        host=args.api,
        gzip=True,
        on_error=on_error,
        max_retries=3,
        timeout=30,
    )
    rid = args.run_id
    user = f"py-user-{rid}"
    calls: list[tuple[str, dict[str, Any], Any]] = [
        ("identify", {"user_id": user, "traits": {"email": "py@example.com", "plan": "pro"}}, None),
        ("track", {"user_id": user, "event": "Python Order", "properties": {"total": 12.5}}, None),
        ("track", {"user_id": user, "event": "Python Refund", "properties": {"total": 3}}, None),
        ("page", {"user_id": user, "category": "Docs", "name": "Python Page"}, None),
        ("screen", {"user_id": user, "category": "App", "name": "Python Screen"}, None),
        ("group", {"user_id": user, "group_id": f"py-group-{rid}", "traits": {"seats": 4}}, None),
        ("alias", {"previous_id": f"py-anon-{rid}", "user_id": user}, None),
    ]
    for index, (kind, kwargs, _) in enumerate(calls):
        message_id = f"python-{rid}-{index}-{kind}"
        real_ms = int(time.time() * 1000)
        getattr(client, kind)(message_id=message_id, **kwargs)
        call = {"messageId": message_id, "type": kind, "real_ms": real_ms, "userId": user}
        if kind == "track":
            call["event"] = kwargs["event"]
        if kind in ("page", "screen"):
            call["name"] = kwargs["name"]
        if kind == "group":
            call["groupId"] = kwargs["group_id"]
        if kind == "alias":
            call["previousId"] = kwargs["previous_id"]
        result["calls"].append(call)
    client.flush()
    client.shutdown()


if __name__ == "__main__":
    sys.exit(main())
