"""Reading a benchmark directory (../shared/data/bench/README.md gives the schema) into the
product's own domain objects, so that the benchmark scores the product's code."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matcher import (
    Entity,
    FundingCall,
    Organisation,
    Project,
    parse_call,
    parse_organisation,
    parse_project,
)
from matcher import facts as registry

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "bench" / "dev"
SLICE_FLAGS = ("cgt", "health_cluster")

_KINDS = {
    "INDUSTRY": "biotech",
    "OTHER": "academic_group",
    "OTHER_GOV": "other",
    "NIH": "funder",
    "FED": "funder",
    "NETWORK": "other",
    "researcher": "academic_group",
}
_STAGES = {"EARLY_PHASE1": "phase_1", "PHASE1": "phase_1", "PHASE2": "phase_2_plus",
           "PHASE3": "phase_2_plus", "PHASE4": "phase_2_plus"}  # fmt: skip


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def gain_function(spec: str) -> Callable[[float], float]:
    """The manifest's gain: 'relevance' or 'max(0, relevance - N)'."""
    if spec.startswith("max(0, relevance -"):
        offset = float(spec.split("-")[1].rstrip(") "))
        return lambda r: max(0.0, r - offset)
    return float


@dataclass
class Task:
    name: str
    info: dict[str, Any]
    queries: list[dict[str, Any]]
    candidates: list[dict[str, Any]]
    qrels: dict[str, dict[str, float]]
    slices: dict[str, set[str]] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return str(self.info["candidate_kind"])

    @property
    def binary_min(self) -> float:
        return float(self.info["binary_min_relevance"])

    @property
    def gain(self) -> Callable[[float], float]:
        return gain_function(self.info.get("gain", "relevance"))

    @property
    def orders_candidates(self) -> bool:
        """Whether a metric of the task orders each candidate's queries (expert's loss)."""
        return "stelmakh_loss" in str(self.info.get("extra_metric", ""))

    @property
    def leave_one_out(self) -> bool:
        return self.info.get("profile_doc_mask") == "query_id"

    def judged_queries(self) -> list[str]:
        """Queries with at least one relevant candidate: the ones metrics average over."""
        ids = {c["id"] for c in self.candidates}
        return [
            q["id"]
            for q in self.queries
            if any(
                r >= self.binary_min and c in ids for c, r in self.qrels.get(q["id"], {}).items()
            )
        ]


def load_tasks(directory: Path, only: list[str] | None = None) -> list[Task]:
    manifest = json.loads((directory / "manifest.json").read_text())
    tasks = []
    for name, info in manifest["tasks"].items():
        if only and name not in only:
            continue
        queries = load_jsonl(directory / f"{name}_projects.jsonl")
        candidates = load_jsonl(directory / f"{name}_{info['candidate_kind']}.jsonl")
        qrels: dict[str, dict[str, float]] = {}
        for row in load_jsonl(directory / f"{name}_qrels.jsonl"):
            qrels.setdefault(row["query_id"], {})[row["candidate_id"]] = float(row["relevance"])
        slices = {"all": {q["id"] for q in queries}}
        for flag in SLICE_FLAGS:
            flagged = {q["id"] for q in queries if (q.get("meta") or {}).get(flag)}
            if flagged and name != "expert":
                slices[flag] = flagged
        tasks.append(Task(name, info, queries, candidates, qrels, slices))
    return tasks


def data_hash(directory: Path) -> str:
    """A digest of a benchmark directory's files, to tell whether a ranker was trained on it."""
    digest = hashlib.sha256()
    for path in sorted(directory.glob("*.json*")):
        digest.update(path.name.encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


# ------------------------------------------------------------------ into the product's domain

UPDATED = dt.datetime(2026, 1, 1, tzinfo=dt.UTC).isoformat()


def _stage(meta: dict[str, Any]) -> str:
    phase = str(meta.get("phase") or "").upper().replace(" ", "").replace("/", "")
    for key, stage in _STAGES.items():
        if key in phase:
            return stage
    return "preclinical"


def to_project(query: dict[str, Any]) -> Project:
    meta = query.get("meta") or {}
    title = (query.get("title") or "").strip() or query["id"]
    abstract = (query.get("abstract") or "").strip() or title
    interventions = [str(i) for i in meta.get("interventions") or [] if str(i).strip()]
    if interventions:
        abstract = f"{abstract}\nInterventions: {'; '.join(interventions)}."
    conditions = [str(c) for c in meta.get("conditions") or [] if str(c).strip()]
    return parse_project(
        {
            "id": query["id"],
            "title": title,
            "abstract": abstract,
            "modality": "other",
            "indications": conditions or ["unspecified"],
            "stage": _stage(meta),
            "owner": "benchmark",
            "visibility": "internal",
            "updated_at": UPDATED,
            "facts": _facts(meta),
        }
    )


def _facts(meta: dict[str, Any]) -> dict[str, Any] | None:
    """A trial's registry fields (the query's meta, or one line's `profile_doc_meta`) as the
    product's facts, normalised from the registry's spellings."""
    found = registry.facts(
        phase=meta.get("phase"),
        start=meta.get("start_date") or meta.get("first_posted"),
        conditions=meta.get("conditions"),
        interventions=meta.get("interventions"),
    )
    return registry.to_record(found) if found else None


def to_organisation(candidate: dict[str, Any]) -> Organisation:
    lines = [x for x in candidate.get("profile_text", "").split("\n") if x.strip()]
    lines = lines or [candidate["name"]]
    doc_ids = (candidate.get("meta") or {}).get("profile_doc_ids") or []
    if len(doc_ids) != len(lines):
        doc_ids = [f"{candidate['id']}#{i}" for i in range(len(lines))]
    # Each line's registry facts travel with it (the leave-one-out mask drops both).
    doc_meta = (candidate.get("meta") or {}).get("profile_doc_meta") or []
    if len(doc_meta) != len(lines):
        doc_meta = [{}] * len(lines)
    country = (candidate.get("country") or "").upper()
    return parse_organisation(
        {
            "id": candidate["id"],
            "name": candidate["name"],
            "kind": _KINDS.get(candidate.get("type") or "", "other"),
            "country": country if len(country) == 2 else "ZZ",
            "documents": [
                {"title": str(d), "text": line, "facts": _facts(m or {})}
                for d, line, m in zip(doc_ids, lines, doc_meta, strict=True)
            ],
        }
    )


def to_call(candidate: dict[str, Any]) -> FundingCall:
    meta = candidate.get("meta") or {}
    title = (candidate.get("title") or "").strip() or candidate["id"]
    return parse_call(
        {
            "id": candidate["id"],
            "title": title,
            "funder": "European Commission",
            "programme": str(meta.get("destination") or meta.get("call_id") or ""),
            "text": (candidate.get("text") or "").strip() or title,
        }
    )


def entities(task: Task) -> list[Entity]:
    convert = to_organisation if task.kind == "partners" else to_call
    return [*(to_project(q) for q in task.queries), *(convert(c) for c in task.candidates)]
