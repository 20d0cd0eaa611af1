"""How fast each importer stores a real or generated export, and that a second run changes
nothing.

    python -m bench.imports [--eu-ft PATH] [--participants 3000] [--studies 2000] [--json OUT]

EU Funding & Tenders: the real export (default `../shared/data/raw/eu-ft-open-calls-2026/`,
skipped where absent). CORDIS and ClinicalTrials.gov: exports generated from the test fixtures'
formats (tests/data/sources), with as many participants (5 projects each) and studies as asked,
so the figures do not depend on data we may not ship. Each is imported twice into a fresh
SQLite store: the first run's counts and records per second, then the second run's counts.
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
from pathlib import Path
from typing import Any

from matcher import Store
from matcher.sources import import_source

from .machine import describe, peak_rss_mb

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "data" / "sources"
EU_FT = ROOT.parent / "shared" / "data" / "raw" / "eu-ft-open-calls-2026" / "open_calls.jsonl.gz"


def cordis_export(directory: Path, participants: int, projects: int = 40) -> Path:
    """The fixture's tables, grown: `projects` projects (the fixture's, renumbered) and
    `participants` organisations taking part in 5 of them each."""
    with (FIXTURES / "cordis" / "csv" / "project.csv").open(encoding="utf-8") as handle:
        header, *rows = list(csv.reader(handle, delimiter=";"))
    with (FIXTURES / "cordis" / "csv" / "organization.csv").open(encoding="utf-8") as handle:
        org_header, *org_rows = list(csv.reader(handle, delimiter=";"))
    directory.mkdir(parents=True)
    pid = header.index("id")
    with (directory / "project.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";", quoting=csv.QUOTE_ALL)
        writer.writerow(header)
        for j in range(projects):
            row = list(rows[j % len(rows)])
            row[pid] = str(700000000 + j)
            writer.writerow(row)
    col = {name: i for i, name in enumerate(org_header)}
    with (directory / "organization.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";", quoting=csv.QUOTE_ALL)
        writer.writerow(org_header)
        for i in range(participants):
            template = list(org_rows[i % len(org_rows)])
            for k in range(5):
                row = list(template)
                row[col["projectID"]] = str(700000000 + (i + 7 * k) % projects)
                row[col["organisationID"]] = str(880000000 + i)
                row[col["name"]] = f"{template[col['name']]} {i}"
                row[col["role"]] = "coordinator" if k == 0 else "participant"
                writer.writerow(row)
    return directory


def ctgov_export(path: Path, studies: int) -> Path:
    """The fixture's studies, renumbered, as JSON lines (the API v2 shape)."""
    templates = [
        json.loads(line)
        for line in (FIXTURES / "ctgov" / "studies.jsonl").read_text().splitlines()
        if line.strip()
    ]
    with path.open("w", encoding="utf-8") as handle:
        for i in range(studies):
            study = json.loads(json.dumps(templates[i % len(templates)]))
            ident = study["protocolSection"]["identificationModule"]
            ident["nctId"] = f"NCT8{i:07d}"
            sponsor = study["protocolSection"]["sponsorCollaboratorsModule"]["leadSponsor"]
            sponsor["name"] = f"{sponsor['name']} {i % max(1, studies // 4)}"
            handle.write(json.dumps(study) + "\n")
    return path


def twice(name: str, path: Path, root: Path) -> dict[str, Any]:
    with Store(root / f"{name}.db") as store:
        first = import_source(store, name, path)
        second = import_source(store, name, path)
    return {
        "records": len(first.outcomes),
        "seconds": round(first.seconds, 2),
        "records_per_second": round(first.records_per_second, 1),
        "first_run": dict(first.counts),
        "second_run": dict(second.counts),
        "second_run_seconds": round(second.seconds, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--eu-ft", type=Path, default=EU_FT)
    parser.add_argument("--participants", type=int, default=3000)
    parser.add_argument("--studies", type=int, default=2000)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"machine": describe()}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.eu_ft.exists():
            results["eu-ft"] = twice("eu-ft", args.eu_ft, root)
        else:
            print(f"no EU F&T export at {args.eu_ft}: skipped")
        results["cordis"] = twice("cordis", cordis_export(root / "cordis", args.participants), root)
        results["ctgov"] = twice("ctgov", ctgov_export(root / "ctgov.jsonl", args.studies), root)
    results["peak_rss_mb"] = round(peak_rss_mb())
    for name, figures in results.items():
        print(f"{name}: {json.dumps(figures)}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
