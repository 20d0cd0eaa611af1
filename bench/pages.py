"""How fast the web pages load in a real browser: time to first byte and to the `load` event
(Navigation Timing), the median of several loads of each main page, signed in as a business
developer, against `matcher serve` on loopback.

    python -m bench.pages [--projects 1000] [--loads 20] [--out FILE.json]

First on the demo (data/demo loaded and indexed in a temporary folder, five matches shortlisted
so that the pipeline has entries), then with `--projects` generated projects added to it: the
portfolio and the project list at that size. The generated projects reuse the demo's 40 titles
and abstracts (each about 25 times over, under their own ids, stages, needs, owners and
visibility), so their embeddings come from the cache and the build takes seconds rather than
the minutes that 1,000 new abstracts take on two cores; ranking and rendering cost the same.
Uses tests/browser.py (Debian's chromium through Playwright) for the server and the browser.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from matcher import (
    DocumentEncoder,
    SentenceTransformerEmbedder,
    Settings,
    Store,
    build_indexes,
    load_directory,
)
from tests.browser import (
    CHROMIUM,
    DEMO_DATA,
    PASSWORD,
    ROOT,
    VIEWPORT,
    add_web_users,
    chromium,
    serving,
    unavailable,
)
from tests.conftest import make_project, write_jsonl

from .machine import describe, report

USER = "bench.bizdev"
DEMO_PAGES = {
    "portfolio": "/portfolio",
    "pipeline": "/pipeline",
    "projects": "/projects",
    "project": "/projects/P-001",
    "project, CDMO tab": "/projects/P-001?tab=cdmo",
    "project, one need": "/projects/P-001?need=gmp_manufacturing",
    "organisation": "/organisations/O-011",
    "call": "/calls/C-001",
    "search form": "/search",
}
LARGE_PAGES = {"portfolio": "/portfolio", "projects": "/projects"}
SEARCH_TEXT = (
    "An AAV8 vector restoring RPE65 in inherited retinal dystrophy after subretinal injection; "
    "we need GMP vector supply and an ophthalmic surgery site for a first-in-human trial."
)
NAVIGATION = """() => {
  const n = performance.getEntriesByType('navigation')[0];
  return {ttfb: n.responseStart - n.startTime, load: n.loadEventEnd - n.startTime,
          dom: n.domContentLoadedEventEnd - n.startTime, bytes: n.encodedBodySize};
}"""
NEEDS = [
    "gmp_manufacturing",
    "vector_supply",
    "process_development",
    "analytics_qc",
    "cro_services",
    "clinical_sites",
    "regulatory_advice",
    "co_funding",
    "industry_partner",
]
STAGES = ["discovery", "preclinical", "gmp_process_development", "phase_1", "phase_2_plus"]


# ---------------------------------------------------------------------- worlds


def build_demo(root: Path, embedder: SentenceTransformerEmbedder) -> float:
    """data/demo loaded and indexed (sentences included) in root, with the product's ranker
    and calibrations, as the tests' demo world; seconds taken."""
    started = time.perf_counter()
    with Store(root / "matcher.db") as store:
        load_directory(store, DEMO_DATA)
        build_indexes(store, DocumentEncoder(embedder, store), root / "models")
    shutil.copytree(ROOT / "models" / "ranker", root / "models" / "ranker")
    return time.perf_counter() - started


def generated_projects(count: int, seed: int = 0) -> list[dict[str, Any]]:
    """`count` projects whose titles and abstracts come from the demo's (see the module's
    docstring), with their own ids, stages, needs, owners and visibility."""
    rng = random.Random(seed)
    demo = [json.loads(line) for line in (DEMO_DATA / "projects.jsonl").read_text().splitlines()]
    owners = [f"u.generated.{i:03d}" for i in range(120)]
    projects = []
    for i in range(count):
        base = demo[i % len(demo)]
        projects.append(
            make_project(
                id=f"P-G{i + 1:04d}",
                title=base["title"],
                abstract=base["abstract"],
                modality=base["modality"],
                indications=base["indications"],
                stage=rng.choice(STAGES),
                needs=rng.sample(NEEDS, rng.randint(1, 4)),
                owner=rng.choice(owners),
                team=rng.sample(owners, rng.randint(0, 2)),
                visibility=rng.choice(["confidential", "internal", "internal", "public"]),
                updated_at=f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}T09:00:00Z",
            )
        )
    return projects


def add_projects(root: Path, embedder: SentenceTransformerEmbedder, count: int) -> float:
    """Add generated projects and rebuild the indexes; seconds taken."""
    started = time.perf_counter()
    data = root / "generated"
    data.mkdir()
    write_jsonl(data / "projects.jsonl", generated_projects(count))
    with Store(root / "matcher.db") as store:
        load_directory(store, data)
        build_indexes(store, DocumentEncoder(embedder, store), root / "models")
    return time.perf_counter() - started


def shortlist_some(base: str, key: str, projects: list[str]) -> None:
    """Put each project's best partner in the pipeline through the API, and move one on."""
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        for i, project in enumerate(projects):
            best = client.get(f"/api/v1/projects/{project}/partners", params={"k": 1})
            best.raise_for_status()
            candidate = best.json()["matches"][0]["id"]
            body = {"project_id": project, "candidate_id": candidate, "note": "bench"}
            entry = client.post("/api/v1/pipeline", json=body)
            entry.raise_for_status()
            if i % 2 == 0:
                move = {"stage": "contacted", "note": "first call held"}
                client.post(f"/api/v1/pipeline/{entry.json()['id']}/moves", json=move)


# ---------------------------------------------------------------------- the browser


def summarise(samples: list[dict[str, float]]) -> dict[str, Any]:
    def stats(key: str) -> dict[str, float]:
        values = sorted(s[key] for s in samples)
        return {
            "median_ms": round(statistics.median(values), 1),
            "p90_ms": round(values[min(len(values) - 1, int(0.9 * len(values)))], 1),
            "min_ms": round(values[0], 1),
            "max_ms": round(values[-1], 1),
        }

    return {
        "loads": len(samples),
        "ttfb": stats("ttfb"),
        "load": stats("load"),
        "html_kb": round(samples[-1]["bytes"] / 1024, 1),
    }


def measure(base: str, pages: dict[str, str], loads: int, search: bool) -> dict[str, Any]:
    """Each page loaded once to warm up, then `loads` times; Navigation Timing of each load."""
    results: dict[str, Any] = {}
    with chromium() as browser:
        context = browser.new_context(viewport=VIEWPORT, base_url=base)
        context.set_default_timeout(300_000)
        page = context.new_page()
        page.goto("/signin")
        page.get_by_label("Username").fill(USER)
        page.get_by_label("Password").fill(PASSWORD)
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in").click()
        for name, path in pages.items():
            samples = []
            for i in range(loads + 1):
                response = page.goto(path, wait_until="load")
                assert response is not None and response.status == 200, (path, response)
                page.wait_for_function(
                    "() => performance.getEntriesByType('navigation')[0].loadEventEnd > 0"
                )
                if i:
                    samples.append(page.evaluate(NAVIGATION))
            results[name] = {"path": path, **summarise(samples)}
            print(f"{name}: {results[name]['ttfb']['median_ms']} ms to first byte, "
                  f"{results[name]['load']['median_ms']} ms to load", flush=True)  # fmt: skip
        if search:
            samples = []
            for i in range(loads + 1):
                page.goto("/search")
                page.get_by_label("Text", exact=True).fill(SEARCH_TEXT)
                with page.expect_navigation(wait_until="load") as navigation:
                    page.get_by_role("button", name="Search", exact=True).click()
                assert navigation.value is not None and navigation.value.status == 200
                heading = page.get_by_role("heading", name="Organisations for your text")
                assert heading.count() == 1, "no results on the search page"
                page.wait_for_function(
                    "() => performance.getEntriesByType('navigation')[0].loadEventEnd > 0"
                )
                if i:
                    samples.append(page.evaluate(NAVIGATION))
            results["search results (POST)"] = {"path": "POST /search", **summarise(samples)}
            print(f"search results: {results['search results (POST)']['load']['median_ms']} ms")
        context.close()
    return results


def chromium_version() -> str:
    import subprocess

    out = subprocess.run([str(CHROMIUM), "--version"], capture_output=True, text=True, check=False)
    return out.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projects", type=int, default=1000, help="generated projects (0: none)")
    parser.add_argument("--loads", type=int, default=20, help="timed loads per page")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()
    reason = unavailable()
    if reason:
        raise SystemExit(f"bench.pages needs a browser: {reason}")

    embedder = SentenceTransformerEmbedder(Settings().model)
    embedder.embed(["warm up"])
    result: dict[str, Any] = {
        "machine": describe(),
        "browser": chromium_version(),
        "loads_per_page": args.loads,
        "signed_in_as": "bizdev",
    }
    # Searches are expensive requests (30 a minute by default): the benchmark makes more.
    env = {"MATCHER_EXPENSIVE_PER_MINUTE": "10000"}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        result["demo_build_s"] = round(build_demo(root, embedder), 1)
        _, headers = add_web_users(root / "matcher.db", {"bizdev": (USER, None)})
        key = headers["bizdev"]["Authorization"].removeprefix("Bearer ")
        with serving(root, root / "server.log", **env) as base:
            shortlist_some(base, key, ["P-001", "P-002", "P-003", "P-014", "P-020"])
            result["demo"] = measure(base, DEMO_PAGES, args.loads, search=True)
        if args.projects:
            result["generated_projects"] = args.projects
            result["generated_build_s"] = round(add_projects(root, embedder, args.projects), 1)
            with serving(root, root / "server-large.log", **env) as base:
                result["large"] = measure(base, LARGE_PAGES, args.loads, search=False)
    report(result, args.out)


if __name__ == "__main__":
    main()
