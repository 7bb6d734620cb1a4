#!/usr/bin/env python3
"""Writes a realistic Segment S3 Classic tree, for the backfill's tests, demo and benches.

    gen_classic.py OUT_DIR [--sources 3] [--days 2] [--objects 2] [--events 150] [--seed 7]
                           [--s3 ENDPOINT BUCKET] [--one-object-events N]

Layout, as Segment's AWS S3 Classic destination writes it: ``segment-logs/<source-id>/
<received-day>/<file>.gz``, the day being the UTC midnight the events were received in
milliseconds, each object gzip-compressed newline-delimited JSON, one event a line, stamped as
Segment stamps them (``messageId``, ``timestamp``, ``receivedAt``, ``sentAt``,
``originalTimestamp``). Events come from ../shared/bench/gen_events.py (about 1 KB each).

Also, on purpose:
- a few bad lines: text that is not JSON, and an object without a valid ``type``;
- one object stored uncompressed (as a client that inflated ``Content-Encoding: gzip`` would
  leave it), and with ``--s3`` every third object uploaded with ``Content-Encoding: gzip``;
- one truncated object (its gzip cut in the middle).

Writes the tree under OUT_DIR and ``OUT_DIR/expected.json``: per object its key, its good
message ids in order, its bad line numbers, and whether it is truncated. With ``--s3`` the same
objects are uploaded to BUCKET at ENDPOINT (moto), keys as in the tree.
``--one-object-events N`` writes a single object of N events instead (the memory bench).
Same arguments, same bytes.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT.parent / "shared" / "bench"))
import gen_events  # noqa: E402

DAY_MS = 86_400_000
FIRST_DAY_MS = 1_432_684_800_000  # 2015-05-27, the day of Segment's own example


def stamp(e: dict, rng: random.Random, day_ms: int) -> dict:
    """Segment's stamps, received on `day_ms`."""
    received = day_ms + rng.randrange(DAY_MS)
    iso = lambda ms: gen_events_iso(ms)  # noqa: E731
    e["receivedAt"] = iso(received)
    e["sentAt"] = iso(received - rng.randrange(2000))
    e["originalTimestamp"] = iso(received - rng.randrange(5000))
    e["timestamp"] = e["originalTimestamp"]
    return e


def gen_events_iso(ms: int) -> str:
    import datetime

    t = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)


def ndjson(events: list) -> str:
    return "".join(json.dumps(e, ensure_ascii=False, separators=(",", ":")) + "\n" for e in events)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    p.add_argument("out", type=Path)
    p.add_argument("--sources", type=int, default=3)
    p.add_argument("--days", type=int, default=2)
    p.add_argument("--objects", type=int, default=2, help="objects per source and day")
    p.add_argument("--events", type=int, default=150, help="events per object")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--s3", nargs=2, metavar=("ENDPOINT", "BUCKET"))
    p.add_argument("--one-object-events", type=int)
    a = p.parse_args()
    rng = random.Random(a.seed)
    objects = []  # (key, bytes, meta)
    if a.one_object_events:
        events = [stamp(gen_events.event(rng, i), rng, FIRST_DAY_MS) for i in range(a.one_object_events)]
        key = f"segment-logs/src_big/{FIRST_DAY_MS}/1432729394-0.gz"
        body = gzip.compress(ndjson(events).encode(), mtime=0)
        objects.append((key, body, {"good": len(events), "bad_lines": [], "truncated": False}))
    else:
        n = 0
        for s in range(a.sources):
            source = f"src_{chr(ord('a') + s)}{s + 1}Kx9"
            for d in range(a.days):
                day = FIRST_DAY_MS + d * DAY_MS
                for o in range(a.objects):
                    events = [stamp(gen_events.event(rng, n * 1000 + i), rng, day) for i in range(a.events)]
                    lines = [json.dumps(e, ensure_ascii=False, separators=(",", ":")) for e in events]
                    bad = []
                    if n % 3 == 1:  # a few bad lines, at known line numbers
                        lines.insert(5, "this is not json")
                        lines.insert(9, json.dumps({"type": "purchase", "messageId": "bad-type"}))
                        bad = [6, 10]
                    text = "\n".join(lines) + "\n"
                    key = f"segment-logs/{source}/{day}/{(day // 1000) + 3600 * (o + 1)}-{o}.gz"
                    meta = {"good": [e["messageId"] for e in events], "bad_lines": bad, "truncated": False,
                            "content_encoding": n % 3 == 2, "plain": False}
                    body = gzip.compress(text.encode(), mtime=0)
                    if n == 1:
                        body = text.encode()  # stored inflated: no gzip magic, same name
                        meta["plain"] = True
                    if n == 4:
                        body = body[: len(body) // 2]  # truncated in the middle
                        meta["truncated"] = True
                    objects.append((key, body, meta))
                    n += 1
    a.out.mkdir(parents=True, exist_ok=True)
    for key, body, _ in objects:
        path = a.out / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    (a.out / "expected.json").write_text(json.dumps({k: m for k, _, m in objects}, indent=1))
    if a.s3:
        import boto3
        from botocore.config import Config

        endpoint, bucket = a.s3
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing",
                          config=Config(s3={"addressing_style": "path"}))
        try:
            s3.create_bucket(Bucket=bucket)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
        for key, body, meta in objects:
            extra = {"ContentEncoding": "gzip"} if meta.get("content_encoding") else {}
            s3.put_object(Bucket=bucket, Key=key, Body=body, **extra)
    print(f"{len(objects)} objects, {sum(len(b) for _, b, _ in objects)} bytes under {a.out}"
          + (f" and s3://{a.s3[1]}/" if a.s3 else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
