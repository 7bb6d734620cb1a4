#!/usr/bin/env python3
"""Parquet objects read back by real readers: pyarrow and DuckDB (issue 14).

Run from the project root (``make parquet-tests`` builds the binary and runs this)::

    .venv/bin/python tests/parquet/test_parquet.py --bin target/debug/sync-to-s3

Every check runs the real binary (``sync-to-s3 invoke FILE --dry-run DIR``, the handler the
Lambda function runs, with the configuration in ``SYNC_CONFIG``) and reads what it wrote with
pyarrow and DuckDB from PyPI; nothing here parses Parquet itself.

- cases: each directory under tests/parquet/cases holds ``config.json``, ``payload.json`` and
  ``expected.json`` (the summary, the schema as column types, each object's key pattern and rows,
  and the error records). Both readers must see the schema (names, order, types, all nullable)
  and every value exactly; the error object must hold exactly the expected records, each with
  the event's body, so that it can be replayed.
- two objects of one mapping (different event types, one all null) have identical schemas, by
  pyarrow's schema equality and by the Parquet schema itself;
- ``batch_size`` splits a group into several Parquet objects with their own ``batch_size`` cells;
- ``parquet_compression``: snappy (the default), zstd and none, as the column chunks say;
- the README's Parquet example: its Athena ``CREATE EXTERNAL TABLE`` lists exactly the columns and
  types the function writes for its example configuration, and its DuckDB query runs on the
  output as written.

Exit status 1 when a check fails; each check prints PASS or FAIL with its reasons.
"""

from __future__ import annotations

import argparse
import datetime as dt
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[2]
CASES = Path(__file__).resolve().parent / "cases"

# Column type -> what pyarrow and DuckDB call it when reading the file as written.
PYARROW_TYPES = {
    "string": "string",
    "int64": "int64",
    "double": "double",
    "boolean": "bool",
    "timestamp": "timestamp[ms, tz=UTC]",
    "json": "extension<arrow.json>",
}
DUCKDB_TYPES = {
    "string": "VARCHAR",
    "int64": "BIGINT",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
    "timestamp": "TIMESTAMP WITH TIME ZONE",
    "json": "JSON",
}
# ... and what an Athena table declares for it (JSON is text to Athena).
ATHENA_TYPES = {
    "string": "string",
    "int64": "bigint",
    "double": "double",
    "boolean": "boolean",
    "timestamp": "timestamp",
    "json": "string",
}
# Parquet's own annotations, read from the file's schema by pyarrow.
PARQUET_PHYSICAL = {
    "string": ("BYTE_ARRAY", "String", "UTF8"),
    "json": ("BYTE_ARRAY", "JSON", "JSON"),
    "int64": ("INT64", "None", "NONE"),
    "double": ("DOUBLE", "None", "NONE"),
    "boolean": ("BOOLEAN", "None", "NONE"),
    "timestamp": ("INT64", "Timestamp", "TIMESTAMP_MILLIS"),
}


class Failure(Exception):
    pass


def run(binary: str, config: dict | str, payload: Path, out: Path) -> dict:
    """Runs the handler once through the binary; returns its JSON summary."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SYNC_"))}
    env["SYNC_CONFIG"] = config if isinstance(config, str) else json.dumps(config)
    p = subprocess.run(
        [binary, "invoke", str(payload), "--dry-run", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if p.returncode != 0:
        raise Failure(f"invoke exited {p.returncode}: {p.stderr.strip()[-2000:]}")
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    if not lines:
        raise Failure(f"no summary on stdout: {p.stdout!r}")
    return json.loads(lines[-1])


def iso(v):
    if isinstance(v, dt.datetime):
        if v.tzinfo is None:
            raise Failure(f"timestamp {v} read without a time zone")
        return v.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return v


def pyarrow_rows(path: str) -> list[dict]:
    return [{k: iso(v) for k, v in row.items()} for row in pq.read_table(path).to_pylist()]


def duckdb_rows(con, path: str) -> tuple[list[tuple[str, str]], list[dict]]:
    rel = con.sql(f"SELECT * FROM read_parquet('{path}')")
    described = [(name, str(t)) for name, t in zip(rel.columns, rel.types)]
    rows = [dict(zip(rel.columns, (iso(v) for v in r))) for r in rel.fetchall()]
    return described, rows


def check_schema(path: str, schema: list[list[str]], problems: list[str]) -> None:
    names = [n for n, _ in schema]
    arrow = pq.read_schema(path)
    got = [(f.name, str(f.type), f.nullable) for f in arrow]
    want = [(n, PYARROW_TYPES[t], True) for n, t in schema]
    if got != want:
        problems.append(f"{path}: pyarrow schema {got}, expected {want}")
    pschema = pq.ParquetFile(path).schema
    for i, (name, t) in enumerate(schema):
        c = pschema.column(i)
        logical = str(c.logical_type)
        want_physical, want_logical, want_converted = PARQUET_PHYSICAL[t]
        if (
            c.name != name
            or c.physical_type != want_physical
            or not logical.startswith(want_logical)
            or c.converted_type != want_converted
            or c.max_definition_level != 1
        ):
            problems.append(
                f"{path}: column {i} is {c.name} {c.physical_type} {logical} {c.converted_type} "
                f"(definition level {c.max_definition_level}), expected {name} {want_physical} "
                f"{want_logical} {want_converted}, optional"
            )
        if t == "timestamp" and ("isAdjustedToUTC=true" not in logical or "milliseconds" not in logical):
            problems.append(f"{path}: column {name}: {logical}, expected UTC milliseconds")
    if names != [f.name for f in arrow]:
        problems.append(f"{path}: column order {arrow.names}, expected {names}")


def check_case(binary: str, case: Path, work: Path) -> list[str]:
    problems: list[str] = []
    expected = json.loads((case / "expected.json").read_text())
    config = (case / "config.json").read_text()
    out = work / case.name
    summary = run(binary, config, case / "payload.json", out)
    objects = summary.pop("objects")
    if summary != expected["summary"]:
        problems.append(f"summary {summary}, expected {expected['summary']} (+ objects)")
    data_keys = [k for k in objects if k.endswith(".parquet")]
    error_keys = [k for k in objects if not k.endswith(".parquet")]
    if len(data_keys) != len(expected["objects"]):
        problems.append(f"data objects {data_keys}, expected {len(expected['objects'])}")
    con = duckdb.connect()
    con.sql("SET TimeZone = 'UTC'")
    schema = expected["schema"]
    for key, want in zip(data_keys, expected["objects"]):
        if not re.match(want["key_pattern"], key):
            problems.append(f"key {key} does not match {want['key_pattern']}")
        path = str(out / key)
        if open(path, "rb").read(4) != b"PAR1":
            problems.append(f"{key}: not a Parquet file (gzip must not wrap Parquet)")
            continue
        check_schema(path, schema, problems)
        described, drows = duckdb_rows(con, path)
        want_described = [(n, DUCKDB_TYPES[t]) for n, t in schema]
        if described != want_described:
            problems.append(f"{key}: DuckDB reads the columns as {described}, expected {want_described}")
        for reader, rows in (("pyarrow", pyarrow_rows(path)), ("DuckDB", drows)):
            if len(rows) != len(want["rows"]):
                problems.append(f"{key}: {reader} reads {len(rows)} rows, expected {len(want['rows'])}")
            for i, (got, exp) in enumerate(zip(rows, want["rows"])):
                for col in exp:
                    g, e = got.get(col), exp[col]
                    # Exact: a double compares equal only to the same double, an int to the same int.
                    if g != e or type(g) is not type(e):
                        problems.append(f"{key} row {i} column {col}: {reader} reads {g!r}, expected {e!r}")
    # The error records: one per event with cells that did not convert, with its body.
    records = []
    for k in error_keys:
        records += [json.loads(l) for l in (out / k).read_text().splitlines()]
    want_errors = expected["errors"]
    if [(r["index"], r["reason"]) for r in records] != [(e["index"], e["reason"]) for e in want_errors]:
        problems.append(f"error records {[(r['index'], r['reason']) for r in records]}, expected {want_errors}")
    payload = json.loads((case / "payload.json").read_text())
    for r in records:
        if r["source"] != "invoke" or json.loads(r["body"]) != payload[r["index"]]:
            problems.append(f"error record {r['index']}: body/source {r['source']} {r['body']!r} is not the event")
    return problems


EVENTS = [
    {"type": "track", "event": "A", "userId": "u1", "timestamp": "2026-01-08T13:52:50.212Z",
     "properties": {"revenue": 1, "quantity": 1}},
    {"type": "identify", "userId": "u2"},
    {"type": "track", "event": "B", "properties": {"revenue": 1.5, "quantity": 2}},
    {"type": "track", "event": "C", "properties": {"revenue": 2, "quantity": 3}},
]

TYPED_MAPPING = {
    "name": "typed",
    "subscription": "",
    "file_extension": "parquet",
    "columns": {
        "event": {"@path": "$.event"},
        "user_id": {"@path": "$.userId"},
        "revenue": {"@path": "$.properties.revenue"},
        "quantity": {"@path": "$.properties.quantity"},
        "at": {"@path": "$.timestamp"},
        "properties": {"@path": "$.properties"},
    },
    "column_types": {"revenue": "double", "quantity": "int64", "at": "timestamp", "properties": "json"},
}


def check_identical_schemas(binary: str, work: Path) -> list[str]:
    problems = []
    payload = work / "schemas.json"
    payload.write_text(json.dumps(EVENTS))
    out = work / "schemas"
    summary = run(binary, {"s3_aws_bucket_name": "b-1", "mappings": [TYPED_MAPPING]}, payload, out)
    keys = summary["objects"]
    if len(keys) != 2:
        return [f"expected a track and an identify object, got {keys}"]
    schemas = [pq.read_schema(out / k) for k in keys]
    if not schemas[0].equals(schemas[1], check_metadata=True):
        problems.append(f"pyarrow schemas differ:\n{schemas[0]}\n{schemas[1]}")
    parquet = [pq.ParquetFile(out / k).schema for k in keys]
    if not parquet[0].equals(parquet[1]):
        problems.append(f"Parquet schemas differ:\n{parquet[0]}\n{parquet[1]}")
    # The identify object's typed columns are all null, and still typed.
    ident = pq.read_table(out / keys[1])
    if ident.column("revenue").type != pa.float64() or ident.column("revenue").null_count != 1:
        problems.append(f"identify object: revenue is {ident.column('revenue')}")
    return problems


def check_batch_size(binary: str, work: Path) -> list[str]:
    payload = work / "split.json"
    payload.write_text(json.dumps([e for e in EVENTS if e["type"] == "track"]))
    out = work / "split"
    mapping = dict(TYPED_MAPPING, batch_size=2)
    summary = run(binary, {"s3_aws_bucket_name": "b-1", "mappings": [mapping]}, payload, out)
    tables = [pq.read_table(out / k) for k in summary["objects"]]
    got = [(t.column("event").to_pylist(), t.column("batch_size").to_pylist()) for t in tables]
    want = [(["A", "B"], [2, 2]), (["C"], [1])]
    return [] if got == want else [f"objects hold {got}, expected {want}"]


def check_codecs(binary: str, work: Path) -> list[str]:
    problems = []
    payload = work / "codecs.json"
    payload.write_text(json.dumps(EVENTS * 50))
    con = duckdb.connect()
    for codec, want in (("snappy", "SNAPPY"), ("zstd", "ZSTD"), ("none", "UNCOMPRESSED"), (None, "SNAPPY")):
        mapping = dict(TYPED_MAPPING, subscription='type = "track"')
        if codec:
            mapping["parquet_compression"] = codec
        out = work / f"codec-{codec}"
        summary = run(binary, {"s3_aws_bucket_name": "b-1", "mappings": [mapping]}, payload, out)
        path = out / summary["objects"][0]
        meta = pq.ParquetFile(path).metadata
        codecs = {meta.row_group(0).column(i).compression for i in range(meta.num_columns)}
        if codecs != {want}:
            problems.append(f"parquet_compression {codec}: column chunks are {codecs}, expected {want}")
        n = con.execute(f"SELECT count(*), sum(quantity) FROM read_parquet('{path}')").fetchall()[0]
        if n != (150, 300):
            problems.append(f"parquet_compression {codec}: DuckDB counts {n}, expected (150, 300)")
    return problems


def readme_block(text: str, marker: str, lang: str) -> str:
    m = re.search(rf"<!-- {re.escape(marker)} -->\s*```{lang}\n(.*?)```", text, re.S)
    if not m:
        raise Failure(f"README.md has no ```{lang} block after <!-- {marker} -->")
    return m.group(1)


def check_readme(binary: str, work: Path) -> list[str]:
    problems = []
    readme = (ROOT / "README.md").read_text()
    mapping = json.loads(readme_block(readme, "parquet-example-mapping", "json"))
    ddl = readme_block(readme, "parquet-athena-ddl", "sql")
    query = readme_block(readme, "parquet-duckdb-query", "sql")
    payload = work / "readme.json"
    payload.write_text(json.dumps([
        {"type": "track", "event": "Order Completed", "userId": "u1", "messageId": "m1",
         "timestamp": "2026-01-08T13:52:50.212Z",
         "properties": {"revenue": 12.5, "quantity": 2, "currency": "EUR"},
         "context": {"library": {"name": "analytics.js"}}},
        {"type": "track", "event": "Order Completed", "anonymousId": "a2", "messageId": "m2",
         "timestamp": "2026-01-08T14:00:00.000+01:00",
         "properties": {"revenue": 7, "quantity": 1}},
    ]))
    out = work / "readme"
    summary = run(binary, {"s3_aws_bucket_name": "your-bucket", "mappings": [mapping]}, payload, out)
    path = out / summary["objects"][0]
    written = [(f.name, f.type) for f in pq.read_schema(path)]
    # The DDL's columns: the lines between "(" and ")" of CREATE EXTERNAL TABLE.
    body = re.search(r"CREATE EXTERNAL TABLE[^(]*\((.*?)\)\s*(PARTITIONED|STORED)", ddl, re.S)
    if not body:
        return [f"the README's DDL has no column list:\n{ddl}"]
    declared = [tuple(l.strip().rstrip(",").replace("`", "").split()[:2]) for l in body.group(1).strip().splitlines()]
    types = {t: n for n, t in PYARROW_TYPES.items()}
    want = [(name, ATHENA_TYPES[types[str(t)]]) for name, t in written]
    if declared != want:
        problems.append(f"the README's Athena DDL declares {declared}; the function writes {want}")
    if "STORED AS PARQUET" not in ddl:
        problems.append("the README's DDL is not STORED AS PARQUET")
    con = duckdb.connect()
    con.sql("SET TimeZone = 'UTC'")
    local = query.replace("s3://YOUR-BUCKET/", f"{out}/")
    try:
        rows = con.sql(local).fetchall()
    except duckdb.Error as e:
        return problems + [f"the README's DuckDB query fails on the output: {e}\n{local}"]
    if not rows:
        problems.append(f"the README's DuckDB query returns nothing:\n{local}")
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=str(ROOT / "target/debug/sync-to-s3"))
    args = ap.parse_args()
    checks = [(f"case {c.name}", lambda w, c=c: check_case(args.bin, c, w)) for c in sorted(CASES.iterdir()) if c.is_dir()]
    checks += [
        ("two objects of one mapping have identical schemas", lambda w: check_identical_schemas(args.bin, w)),
        ("batch_size splits Parquet objects", lambda w: check_batch_size(args.bin, w)),
        ("parquet_compression snappy, zstd, none", lambda w: check_codecs(args.bin, w)),
        ("README: the Athena DDL and the DuckDB query fit the output", lambda w: check_readme(args.bin, w)),
    ]
    failed = 0
    with tempfile.TemporaryDirectory(prefix="parquet-tests-") as tmp:
        for name, check in checks:
            work = Path(tmp) / re.sub(r"\W+", "-", name)
            work.mkdir()
            try:
                problems = check(work)
            except Failure as e:
                problems = [str(e)]
            if problems:
                failed += 1
                print(f"FAIL {name}")
                for p in problems:
                    print(f"  - {p}")
            else:
                print(f"PASS {name}")
    print(f"parquet tests (pyarrow {pa.__version__}, duckdb {duckdb.__version__}): "
          f"{len(checks) - failed} of {len(checks)} passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
