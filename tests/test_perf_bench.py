"""The performance benchmark (bench/perf.py) end to end at a tiny size: the shape of its result
and that its figures are sane. wrk and txtai parts run only where they are installed."""

from __future__ import annotations

import importlib.util
import json
import random
import shutil
from pathlib import Path

import pytest

from bench import perf
from bench.perf_world import pasted_text, write_world
from matcher import parse_organisation, parse_project

pytestmark = pytest.mark.slow


def test_world_follows_the_demo_schema(tmp_path: Path) -> None:
    write_world(tmp_path, organisations=40, projects=12)
    orgs = [
        json.loads(line) for line in (tmp_path / "organisations.jsonl").read_text().splitlines()
    ]
    projects = [json.loads(line) for line in (tmp_path / "projects.jsonl").read_text().splitlines()]
    assert len(orgs) == 40 and len(projects) == 12
    for record in orgs:
        parse_organisation(record)
        assert 1 <= len(record["documents"]) <= 4
        for d in record["documents"]:
            assert 40 <= len(d["text"].split()) <= 160
    for record in projects:
        parse_project(record)
    assert (tmp_path / "calls.jsonl").exists()


def test_distinct_documents_repeat_texts(tmp_path: Path) -> None:
    write_world(tmp_path, organisations=50, projects=2, distinct_documents=8)
    texts = [d["text"] for line in (tmp_path / "organisations.jsonl").read_text().splitlines()
             for d in json.loads(line)["documents"]]  # fmt: skip
    assert len(set(texts)) <= 8 < len(texts)


def test_pasted_texts_are_all_new() -> None:
    rng = random.Random(0)
    texts = [pasted_text(rng, i) for i in range(200)]
    sentences = [s for t in texts for s in t.split(". ")]
    assert len(set(sentences)) == len(sentences)


def test_harness_end_to_end_at_a_tiny_size(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    wrk = shutil.which("wrk") is not None
    perf.main([
        "--sizes", "30", "--projects", "10", "--calls", "5", "--dir", str(tmp_path / "worlds"),
        "--no-sentences", "--no-txtai", "--queries", "5", "--reverse-queries", "5",
        "--threads", "2", "--seconds", "1",
        "--duration", "1", "--connections", "2", "--embedding-sample", "0", "--json", str(out),
    ])  # fmt: skip
    result = json.loads(out.read_text())
    assert result["machine"]["cores"] >= 1 and result["commit"]
    size = result["sizes"]["30"]
    assert size["size"]["organisations"] == 30 and size["size"]["projects"] == 10
    assert size["size"]["calls"] == 5
    assert size["in_process"]["counts"]["organisation"] == 30
    assert size["build"]["build"]["seconds"] > 0 and size["build"]["build"]["peak_rss_mb"] > 0
    for name, figures in size["in_process"]["latency"].items():
        assert figures["n"] == 5, name
        assert 0 < figures["p50_ms"] <= figures["p99_ms"], name
    assert size["in_process"]["threaded"]["project_to_partners"]["requests"] > 0
    assert size["in_process"]["peak_rss_mb"] > 0
    assert size["http"]["startup_s"] > 0
    assert size["http"]["memory_at_end"]["peak_rss_mb"] > 0
    if wrk:
        load = size["http"]["wrk"]["stored_2"]
        assert load["requests"] > 0 and load["errors"]["status"] == 0
        assert 0 < load["p50_ms"] <= load["p99_ms"]
    else:
        assert size["http"]["wrk"].startswith("skipped")
    assert size["txtai"].startswith("skipped")
    floors = result["floors_at_largest_size"]
    assert set(floors) == set(perf.FLOORS)


@pytest.mark.skipif(importlib.util.find_spec("txtai") is None, reason="txtai not installed")
def test_txtai_side_indexes_and_answers(tmp_path: Path) -> None:
    from bench import perf_txtai

    data = write_world(tmp_path / "data", organisations=20, projects=3)
    built = perf_txtai.build(data, tmp_path / "txtai")
    assert built["documents"] == len(perf_txtai.organisation_rows(data))
    embeddings = perf_txtai.load(tmp_path / "txtai")
    text = next(iter(perf_txtai.project_texts(data).values()))
    hits = perf_txtai.top_organisations(embeddings, text, k=5)
    assert 0 < len(hits) <= 5 and len({org for org, _ in hits}) == len(hits)
