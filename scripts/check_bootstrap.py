#!/usr/bin/env python3
"""Checks the Lambda bootstrap that `sam build` made: an ELF executable for the expected
machine, under a size budget. Prints one line with the figures; exit 1 on any miss.

    python3 scripts/check_bootstrap.py .aws-sam/build/SyncFunction/bootstrap --arch aarch64 --max-bytes 18000000
"""

from __future__ import annotations

import argparse
import os
import struct
import sys

MACHINES = {0xB7: "aarch64", 0x3E: "x86_64"}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    p.add_argument("path")
    p.add_argument("--arch", default="aarch64", choices=sorted(MACHINES.values()))
    p.add_argument("--max-bytes", type=int, required=True)
    a = p.parse_args()
    try:
        with open(a.path, "rb") as f:
            header = f.read(64)
        size = os.path.getsize(a.path)
    except OSError as e:
        print(f"FAIL {a.path}: {e} (did sam build run?)")
        return 1
    problems = []
    if header[:4] != b"\x7fELF":
        problems.append("not an ELF file")
        machine, kind = "?", "?"
    else:
        little = header[5] == 1
        e_type, e_machine = struct.unpack("<HH" if little else ">HH", header[16:20])
        machine = MACHINES.get(e_machine, hex(e_machine))
        kind = {2: "executable", 3: "position-independent executable"}.get(e_type, f"type {e_type}")
        if header[4] != 2:
            problems.append("not 64-bit")
        if machine != a.arch:
            problems.append(f"built for {machine}, not {a.arch}")
        if e_type not in (2, 3):
            problems.append(f"not an executable ({kind})")
    if not os.access(a.path, os.X_OK):
        problems.append("not marked executable")
    if size > a.max_bytes:
        problems.append(f"{size:,} bytes is over the {a.max_bytes:,}-byte budget")
    verdict = "FAIL" if problems else "ok"
    print(f"{verdict} {a.path}: ELF {machine} {kind}, {size:,} bytes (budget {a.max_bytes:,})"
          + (": " + "; ".join(problems) if problems else ""))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
