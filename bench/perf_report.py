"""Markdown tables from a bench/perf.py result, for docs/performance.md.

    python -m bench.perf_report RESULT.json [RESULT.json ...]

Several results (e.g. one run per size) are merged, later files winning for a size they share.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

Row = tuple[str, Callable[[dict[str, Any]], Any]]


def dig(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def ms(value: Any) -> str:
    return "-" if value is None else f"{value:,.1f}"


def fig(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def spread(size: dict[str, Any], *keys: str) -> str:
    found = dig(size, *keys)
    if not isinstance(found, dict) or "p50_ms" not in found:
        return "-"
    return f"{ms(found['p50_ms'])} / {ms(found['p99_ms'])}"


def load(size: dict[str, Any], side: str, name: str) -> str:
    found = dig(size, side, "wrk", name) if side == "txtai" else dig(size, "http", "wrk", name)
    if not isinstance(found, dict) or "requests_per_s" not in found:
        return "-"
    errors = sum(found["errors"].values())
    tail = f", {errors} errors" if errors else ""
    return (
        f"{fig(found['requests_per_s'])} req/s, {ms(found['p50_ms'])} / {ms(found['p99_ms'])}{tail}"
    )


def threaded(size: dict[str, Any], *keys: str) -> str:
    found = dig(size, *keys)
    return "-" if not isinstance(found, dict) else f"{fig(found['requests_per_s'])} req/s"


def memory(s: dict[str, Any]) -> str:
    start = dig(s, "http", "memory_after_start", "rss_mb")
    return f"{fig(start, 0)} / {fig(dig(s, 'http', 'memory_at_end', 'peak_rss_mb'), 0)}"


def documents(s: dict[str, Any]) -> str:
    return f"{s['size']['documents']:,} ({s['size']['words_per_document']})"


IN = ("in_process", "latency")
TX = ("txtai", "in_process")
ROWS: list[Row] = [
    ("documents (words each)", documents),
    ("`matcher load`, s", lambda s: fig(dig(s, "build", "load", "seconds"))),
    ("`matcher build` (cold), s", lambda s: fig(dig(s, "build", "build", "seconds"))),
    ("`matcher build` peak RSS, MB", lambda s: fig(dig(s, "build", "build", "peak_rss_mb"), 0)),
    ("start-up to /health 200, s", lambda s: fig(dig(s, "http", "startup_s"), 2)),
    ("server RSS after start / peak, MB", memory),
    ("in process: project -> partners p50 / p99, ms",
     lambda s: spread(s, *IN, "project_to_partners")),
    ("in process: project -> calls", lambda s: spread(s, *IN, "project_to_calls")),
    ("in process: organisation -> projects",
     lambda s: spread(s, *IN, "organisation_to_projects")),
    ("in process: call -> projects", lambda s: spread(s, *IN, "call_to_projects")),
    ("in process: pasted abstract -> partners", lambda s: spread(s, *IN, "pasted_to_partners")),
    ("in process, 4 threads: project -> partners",
     lambda s: threaded(s, "in_process", "threaded", "project_to_partners")),
    ("in process, 4 threads: pasted -> partners",
     lambda s: threaded(s, "in_process", "threaded", "pasted_to_partners")),
    ("in-process peak RSS, MB", lambda s: fig(dig(s, "in_process", "peak_rss_mb"), 0)),
    ("HTTP, wrk 16 conn: project -> partners", lambda s: load(s, "http", "stored_16")),
    ("HTTP, wrk 64 conn: project -> partners", lambda s: load(s, "http", "stored_64")),
    ("HTTP, wrk 16 conn: pasted -> partners", lambda s: load(s, "http", "pasted_16")),
    ("HTTP, wrk 64 conn: pasted -> partners", lambda s: load(s, "http", "pasted_64")),
    ("txtai: index build (process), s", lambda s: fig(dig(s, "txtai", "build", "seconds"))),
    ("txtai: index build peak RSS, MB",
     lambda s: fig(dig(s, "txtai", "build", "peak_rss_mb"), 0)),
    ("txtai: project text -> partners p50 / p99, ms",
     lambda s: spread(s, *TX, "project_text_to_partners")),
    ("txtai: in process, 4 threads", lambda s: threaded(s, *TX, "threaded")),
    ("txtai: in-process peak RSS, MB", lambda s: fig(dig(s, *TX, "peak_rss_mb"), 0)),
    ("txtai: start-up to /health 200, s", lambda s: fig(dig(s, "txtai", "startup_s"), 2)),
    ("txtai: server peak RSS, MB",
     lambda s: fig(dig(s, "txtai", "memory_at_end", "peak_rss_mb"), 0)),
    ("txtai: HTTP, wrk 16 conn", lambda s: load(s, "txtai", "stored_16")),
    ("txtai: HTTP, wrk 64 conn", lambda s: load(s, "txtai", "stored_64")),
]  # fmt: skip


def table(sizes: dict[str, dict[str, Any]]) -> str:
    names = sorted(sizes, key=int)
    lines = ["| figure | " + " | ".join(f"{int(n):,} organisations" for n in names) + " |",
             "|---|" + "---|" * len(names)]  # fmt: skip
    for label, get in ROWS:
        cells = []
        for n in names:
            try:
                cells.append(str(get(sizes[n])))
            except (KeyError, TypeError):
                cells.append("-")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def floors(result: dict[str, Any]) -> str:
    lines = ["| floor (largest size) | limit | measured | met |", "|---|---|---|---|"]
    for name, f in result.get("floors_at_largest_size", {}).items():
        met = {True: "yes", False: "**no**", None: "not measured"}[f["met"]]
        lines.append(f"| {name} | {f['floor']} | {f['value']} | {met} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("results", type=Path, nargs="+")
    args = parser.parse_args(argv)
    sizes: dict[str, dict[str, Any]] = {}
    last: dict[str, Any] = {}
    for path in args.results:
        last = json.loads(path.read_text())
        sizes.update(last["sizes"])
        print(f"<!-- {path}: {last['command']} at {last['commit']}, {last['started_at']} -->")
    print(table(sizes))
    print()
    print(floors(last))
    embedding = last.get("embedding")
    print()
    print(f"embedding: {json.dumps(embedding) if embedding is not None else 'not in this result'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
