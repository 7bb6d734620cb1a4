#!/usr/bin/env python3
"""`make run`'s view of what the function wrote: each object with its size, content type and
row count, then its first rows as a table turned on its side (one line per column, so a wide
row stays readable), every cut cell marked with "…". Error objects (NDJSON) show their record
count and first record.

    .venv/bin/python scripts/preview_objects.py DIR < listing.tsv

The listing is what seed_local_aws.py --dump prints: key, size and content type, tab-separated,
one object a line; DIR holds the objects' bytes under their keys.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import sys
from pathlib import Path

ROWS = 2  # rows shown per object
WIDTH = 48  # characters per cell before it is cut


def cut(text: str, width: int = WIDTH) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= width else text[: width - 1] + "…"


def bold(text: str) -> str:
    return f"\033[1m{text}\033[0m" if sys.stdout.isatty() else text


def show_delimited(text: str) -> None:
    header_line = text.split("\n", 1)[0]
    try:
        dialect = csv.Sniffer().sniff(header_line, delimiters=",\t|;")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    if not rows:
        print("   (empty)")
        return
    header, body = rows[0], rows[1:]
    sep = {"\t": "tab"}.get(delimiter, repr(delimiter))
    rows_word = "row" if len(body) == 1 else "rows"
    print(f"   {len(body)} {rows_word} x {len(header)} columns, delimiter {sep}")
    shown = body[:ROWS]
    name_width = min(max((len(h) for h in header), default=0), 28)
    titles = "".join(f"  {'row ' + str(i + 1):<{WIDTH}}" for i in range(len(shown)))
    print(f"   {'column':<{name_width}}{titles}".rstrip())
    for c, name in enumerate(header):
        cells = "".join(f"  {cut(r[c] if c < len(r) else ''):<{WIDTH}}" for r in shown)
        print(f"   {cut(name, name_width):<{name_width}}{cells}".rstrip())
    if len(body) > ROWS:
        print(f"   … and {len(body) - ROWS} more rows")


def show_ndjson(text: str) -> None:
    lines = [line for line in text.splitlines() if line.strip()]
    print(f"   {len(lines)} rejected items (NDJSON)")
    if lines:
        try:
            first = json.loads(lines[0])
            for k, v in first.items():
                print(f"   {k:<10}  {cut(v if isinstance(v, str) else json.dumps(v), 100)}")
        except json.JSONDecodeError:
            print(f"   {cut(lines[0], 100)}")


def main() -> int:
    root = Path(sys.argv[1])
    for line in sys.stdin:
        parts = line.rstrip("\n").split("\t")
        if len(parts) < 3:
            continue
        key, size, ctype = parts[:3]
        print(f"\n{bold(key)}  ({size} bytes, {ctype})")
        data = (root / key).read_bytes()
        if key.endswith(".gz"):
            data = gzip.decompress(data)
        text = data.decode("utf-8", errors="replace")
        if key.endswith(".ndjson") or key.endswith(".ndjson.gz") or "ndjson" in ctype:
            show_ndjson(text)
        else:
            show_delimited(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
