#!/usr/bin/env python3
"""The backfill's figures for BENCHMARKS.md (issue 13): one Segment S3 Classic object of about
100 MB uncompressed (100,000 events, scripts/gen_classic.py), replayed by the release binary

- from a local folder to a dry-run directory (no network), and
- from moto's S3 to moto's S3 (scripts/local_aws/local_aws.py on 127.0.0.1),

each ROUNDS times; prints the median wall time, events/s and the peak RSS (from wait4), and
the live path's events/s on the same machine for comparison (bench_pipeline on sqs-4250, when
built). Run from the project root after `cargo build --release --bin sync-to-s3`:

    .venv/bin/python scripts/bench_backfill.py [--rounds 5] [--events 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / "target" / "release" / "sync-to-s3"
PY = sys.executable


TIME = "/usr/bin/time"


def run(args: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Wall seconds, peak RSS in KiB, stdout. The RSS comes from GNU time, a small parent:
    a child forked from this Python process would count this process's pages too."""
    start = time.perf_counter()
    done = subprocess.run([TIME, "-f", "RSS_KIB %M", *args], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{args}: failed\n{done.stdout}\n{done.stderr}")
    rss = next(int(l.split()[1]) for l in reversed(done.stderr.splitlines()) if l.startswith("RSS_KIB "))
    return wall, rss, done.stdout


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--events", type=int, default=100_000)
    a = p.parse_args()
    if not BIN.exists():
        raise SystemExit(f"{BIN} is missing: cargo build --release --bin sync-to-s3")
    work = Path(tempfile.mkdtemp(prefix="bench-backfill-"))
    try:
        tree = ROOT / "target" / "bench-data" / f"classic-{a.events}"
        if not (tree / "expected.json").exists():
            subprocess.run([PY, str(ROOT / "scripts" / "gen_classic.py"), str(tree),
                            "--one-object-events", str(a.events)], check=True, stdout=subprocess.DEVNULL)
        obj = next((tree / "segment-logs").rglob("*.gz"))
        import gzip

        with gzip.open(obj) as f:
            uncompressed = sum(len(block) for block in iter(lambda: f.read(1 << 20), b""))
        cfg = json.dumps({"s3_aws_bucket_name": "bench-history", "subscription": ""})
        env = dict(os.environ, SYNC_CONFIG=cfg, AWS_EC2_METADATA_DISABLED="true")
        results: dict[str, list[tuple[float, int]]] = {"local": [], "moto": []}
        for _ in range(a.rounds):
            out_dir = work / "out"
            shutil.rmtree(out_dir, ignore_errors=True)
            wall, rss, _ = run([str(BIN), "backfill", str(tree / "segment-logs"), "--dry-run", str(out_dir)], env)
            results["local"].append((wall, rss))

        server = subprocess.Popen([PY, str(ROOT / "scripts" / "local_aws" / "local_aws.py"), "--port", "0",
                                   "--keep-alive"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            line = server.stdout.readline() if server.stdout else ""
            port = int(line.split()[1])
            endpoint = f"http://127.0.0.1:{port}"
            import boto3
            from botocore.config import Config

            s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing",
                              config=Config(s3={"addressing_style": "path"}))
            s3.create_bucket(Bucket="classic")
            s3.create_bucket(Bucket="bench-history")
            key = str(obj.relative_to(tree))
            s3.upload_file(str(obj), "classic", key)
            aws_env = dict(env, AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="testing",
                           AWS_SECRET_ACCESS_KEY="testing", AWS_REGION="us-east-1",
                           AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
            for _ in range(a.rounds):
                wall, rss, _ = run([str(BIN), "backfill", "s3://classic/segment-logs/"], aws_env)
                results["moto"].append((wall, rss))
        finally:
            if server.stdin:
                server.stdin.close()
            server.terminate()
            server.wait(timeout=10)

        live = None
        bench = ROOT / "target" / "release" / "examples" / "bench_pipeline"
        data = ROOT / "target" / "bench-data" / "sqs-4250.json"
        if bench.exists() and data.exists():
            line = subprocess.run([str(bench), str(data), "11"], capture_output=True, text=True, check=True).stdout
            ms = json.loads(line)["pipeline_ms"]
            live = 4250 / (ms / 1000)
        report = {
            "object": {"stored_bytes": obj.stat().st_size, "uncompressed_bytes": uncompressed, "events": a.events},
            "rounds": a.rounds,
        }
        for name, rows in results.items():
            wall = statistics.median(w for w, _ in rows)
            report[name] = {
                "wall_s": round(wall, 3),
                "events_per_s": round(a.events / wall),
                "peak_rss_mib": round(statistics.median(r for _, r in rows) / 1024, 1),
                "peak_rss_mib_max": round(max(r for _, r in rows) / 1024, 1),
            }
        report["live_pipeline_events_per_s"] = round(live) if live else None
        print(json.dumps(report, indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
