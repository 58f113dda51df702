"""Shared helper of the benchmark scripts: print a table and record it in benchmarks/RESULTS.md.

Each script owns one section of RESULTS.md, between ``<!-- name:start -->`` and ``<!-- name:end -->``;
re-running a script replaces its section and leaves the others alone.
"""

from __future__ import annotations

import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADER = "# Benchmark results\n\nEvery section is written by the script named in it; re-run the script to refresh it.\n"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    return (f"{os.cpu_count()} CPU cores ({cpu}), torch {torch.__version__}, {torch.get_num_threads()} threads, "
            f"Python {platform.python_version()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")


def record(name: str, title: str, body: str) -> None:
    command = "python " + " ".join([f"benchmarks/{Path(sys.argv[0]).name}", *sys.argv[1:]])
    section = f"<!-- {name}:start -->\n## {title}\n\nCommand: `{command}`  \nMachine: {machine()}\n\n{body.strip()}\n<!-- {name}:end -->"
    text = RESULTS.read_text() if RESULTS.exists() else HEADER
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        text = before + section + after
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    RESULTS.write_text(text)
    print(f"\nrecorded in {RESULTS}")
