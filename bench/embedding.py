"""The embedding pipeline against bare `SentenceTransformer.encode` on the same texts.

    python -m bench.embedding [--texts N] [--batch-size 32] [--no-sentences] [--engine local|ray]
                              [--repeats R] [--json OUT]

Generated profile documents (about 90 words, five sentences each, nearly all distinct). The
bare run encodes exactly the units the pipeline embeds (the documents' chunks and, with
sentences, every sentence, each distinct one once) in one `encode` call; the pipeline run is
`DocumentEncoder(embedder, cache=<a temporary SQLite store>).encode(texts, sentences=...)` from
a cold cache: chunking, hashing, cache reads and writes included. Both load the model and warm it
up first; with `--repeats` each is run that many times (alternating, a fresh store each time) and
the fastest run of each counts, as the machine is shared.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from matcher import (
    DocumentEncoder,
    EntityKind,
    Recommender,
    SentenceTransformerEmbedder,
    Store,
    build_indexes,
    load_directory,
    resolve_model,
)
from matcher.text import content_hash

from .machine import describe, report
from .synthetic import sentence


def documents(n: int, seed: int = 0, per_document: int = 5) -> list[str]:
    """`n` profile documents of about 90 words, `per_document` generated sentences each."""
    rng = random.Random(seed)
    return [" ".join(sentence(rng) for _ in range(per_document)) for _ in range(n)]


def compare(
    texts: list[str],
    *,
    model: str = "default",
    batch_size: int = 32,
    device: str = "cpu",
    sentences: bool = True,
    engine: str = "local",
    repeats: int = 1,
) -> dict[str, Any]:
    """Time bare `encode` and the pipeline (`engine` local or ray) on these documents: seconds,
    texts/s and units/s of each, and `overhead` = pipeline seconds / bare seconds - 1. Checks
    that the pipeline's vectors of the units are the bare ones (`max_abs_diff`)."""
    embedder = SentenceTransformerEmbedder(model, device=device, batch_size=batch_size)
    encoder = DocumentEncoder(embedder)
    units = list(dict.fromkeys(encoder.units(texts, sentences)))
    bare_model = embedder._model()  # the same loaded model: only the pipeline around it differs
    bare_model.encode(units[:batch_size], batch_size=batch_size, normalize_embeddings=True)
    ray_engine = None
    if engine == "ray":
        from matcher.vectors.ray_engine import RayEngine

        ray_engine = RayEngine(device=device, batch_size=batch_size)
        started = time.perf_counter()
        ray_engine.connect()
        start_s = time.perf_counter() - started
    bare_s: list[float] = []
    pipeline_s: list[float] = []
    bare: Any = None
    cached: dict[str, Any] = {}
    for _ in range(repeats):
        started = time.perf_counter()
        bare = bare_model.encode(units, batch_size=batch_size, normalize_embeddings=True)
        bare_s.append(time.perf_counter() - started)
        with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "bench.db") as store:
            pipeline = DocumentEncoder(embedder, store)
            started = time.perf_counter()
            if ray_engine is not None:
                ray_engine.encode(pipeline, texts, sentences=sentences)
            else:
                pipeline.encode(texts, sentences=sentences)
            pipeline_s.append(time.perf_counter() - started)
            cached = store.cached_vectors(embedder.name, [content_hash(u) for u in units])
    if ray_engine is not None:
        ray_engine.close()
    got = np.stack([cached[content_hash(u)] for u in units])
    b, p = min(bare_s), min(pipeline_s)
    return {
        "model": resolve_model(model) if model == "default" else model,
        "device": device,
        "engine": engine,
        **({"ray_start_s": round(start_s, 2)} if ray_engine is not None else {}),
        "batch_size": batch_size,
        "sentences": sentences,
        "texts": len(texts),
        "units": len(units),
        "repeats": repeats,
        "bare_s": round(b, 3),
        "pipeline_s": round(p, 3),
        "bare_runs_s": [round(s, 3) for s in bare_s],
        "pipeline_runs_s": [round(s, 3) for s in pipeline_s],
        "bare_texts_per_s": round(len(texts) / b, 1),
        "bare_units_per_s": round(len(units) / b, 1),
        "pipeline_texts_per_s": round(len(texts) / p, 1),
        "pipeline_units_per_s": round(len(units) / p, 1),
        "overhead": round(p / b - 1, 4),
        "max_abs_diff": float(np.abs(got - np.asarray(bare, dtype=np.float32)).max()),
    }


DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"


def reasons_cost(data: Path = DEMO, k: int = 10, model: str = "default") -> dict[str, Any]:
    """What embedding sentences lazily would cost: a build without sentences, then every
    project's top-k partners with reasons, first with the sentences missing (the reasons embed
    and cache them) and again with them cached; against a build with every sentence embedded,
    whose quoted sentence pairs must be the same."""
    embedder = SentenceTransformerEmbedder(model)
    embedder.embed(["warm up"])
    out: dict[str, Any] = {"data": str(data), "k": k}
    pairs: dict[bool, list[Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for sentences in (False, True):
            root = Path(tmp) / str(sentences)
            with Store(root / "m.db") as store:
                load_directory(store, data)
                encoder = DocumentEncoder(embedder, store)
                texts = [d.text for kind in EntityKind for d in store.documents(kind)]
                started = time.perf_counter()
                build_indexes(store, encoder, root / "models", sentences=sentences)
                out[f"build_s_sentences_{sentences}"] = round(time.perf_counter() - started, 2)
                missing = encoder.count_missing(texts, sentences=True)
                recommender = Recommender.open(store, encoder, root / "models")
                ids = [p.id for p in recommender.entities(EntityKind.PROJECT)]
                timings = []
                for run in ("first", "again"):
                    seconds = []
                    found = []
                    for i in ids:
                        started = time.perf_counter()
                        ranking = recommender.partners_for(i, k=k)
                        seconds.append(time.perf_counter() - started)
                        found.append([m.reasons.sentences if m.reasons else None for m in ranking])
                    timings.append((run, seconds))
                pairs[sentences] = found
                key = "with_sentences" if sentences else "lazy"
                out[key] = {
                    "sentences_missing_after_build": missing,
                    "sentences_embedded_by_reasons": missing
                    - encoder.count_missing(texts, sentences=True),
                    **{
                        f"{run}_ms_p50_p95_max": [
                            round(float(np.percentile(s, q)) * 1000, 1) for q in (50, 95, 100)
                        ]
                        for run, s in timings
                    },
                }
    out["projects"] = len(pairs[True])
    out["same_quoted_sentences"] = _same_pairs(pairs[False], pairs[True])
    return out


def _same_pairs(a: list[Any], b: list[Any]) -> bool:
    return all(
        x == y or (x.query, x.candidate) == (y.query, y.candidate)
        for xs, ys in zip(a, b, strict=True)
        for x, y in zip(xs, ys, strict=True)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--texts", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--no-sentences", action="store_true")
    parser.add_argument("--engine", choices=["local", "ray"], default="local")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--reasons", action="store_true", help="measure lazy sentences for reasons instead"
    )
    args = parser.parse_args(argv)
    if args.reasons:
        report({"machine": describe(), **reasons_cost()}, args.json)
        return 0
    result = compare(
        documents(args.texts),
        batch_size=args.batch_size,
        device=args.device,
        sentences=not args.no_sentences,
        engine=args.engine,
        repeats=args.repeats,
    )
    report({"machine": describe(), **result}, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
