"""One readable score: calibrated probabilities, strength bands, and 'nothing fits'."""

import numpy as np
import pytest

from matcher import (
    DEFAULT_SCORER,
    GOOD,
    STRONG,
    EntityKind,
    Strength,
    Target,
    calibration_path,
    strength_of,
)
from matcher.ranking.calibration import (
    calibration_for,
    expected_calibration_error,
    fingerprint,
    fit_isotonic,
    fit_platt,
    load_calibrations,
    reliability,
    save_calibrations,
)
from tests.conftest import ROOT

ABSTRACT = (
    "We have developed an autologous CD19-directed CAR-T cell product for adults with relapsed "
    "diffuse large B-cell lymphoma after two lines of therapy. A lentiviral vector encodes the "
    "CAR with a 4-1BB costimulatory domain. A phase I dose-escalation trial is planned at our "
    "university hospital, and we need a GMP manufacturing partner with a closed, automated "
    "process and clinical sites with apheresis capacity."
)


def _synthetic(seed=0, n=20_000):
    rng = np.random.default_rng(seed)
    raw = rng.normal(size=n)
    truth = 1 / (1 + np.exp(-(2.5 * raw - 3)))
    return raw, (rng.random(n) < truth).astype(float), truth


@pytest.mark.parametrize("fit", [fit_platt, fit_isotonic])
def test_a_fitted_calibration_recovers_known_probabilities(fit):
    raw, relevant, truth = _synthetic()
    calibration = fit(raw, relevant)
    predicted = calibration.probability(raw)
    assert np.abs(predicted - truth).mean() < 0.02
    assert expected_calibration_error(predicted, relevant) < 0.02
    assert np.all(np.diff(calibration.probability(np.sort(raw))) >= -1e-12)  # monotone


def test_a_miscalibrated_map_shows_in_the_reliability_table():
    _raw, relevant, truth = _synthetic(1)
    bins = reliability(np.clip(truth * 2, 0, 1), relevant)
    assert expected_calibration_error(np.clip(truth * 2, 0, 1), relevant) > 0.05
    assert any(b.predicted > b.observed + 0.1 for b in bins)


def test_calibrations_round_trip_and_are_found_by_scorer(tmp_path):
    raw, relevant, _ = _synthetic()
    fitted = fit_platt(raw, relevant)
    key = fingerprint(DEFAULT_SCORER.weights, DEFAULT_SCORER.bias)
    saved = type(fitted)(fitted.method, fitted.a, fitted.b, manifest={"candidates": "calls",
                                                                      "scorer": key})  # fmt: skip
    save_calibrations([saved], tmp_path / "calibration.json")
    [loaded] = load_calibrations(tmp_path / "calibration.json")
    assert loaded.probability([0.3]) == pytest.approx(fitted.probability([0.3]))
    assert calibration_for([loaded], "calls", key) == loaded
    assert calibration_for([loaded], "partners", key) is None


def test_the_shipped_calibrations_cover_every_scorer_the_service_uses():
    calibrations = load_calibrations(calibration_path(ROOT / "models"))
    found = {(c.manifest["candidates"], c.manifest["scorer_name"]) for c in calibrations}
    assert found == {("partners", "trained ranker"), ("partners", "default"), ("calls", "default")}
    for c in calibrations:
        assert c.manifest["ece"][c.method] < 0.01
        probabilities = c.probability(np.linspace(-2, 10, 200))
        assert np.all((probabilities >= 0) & (probabilities <= 1))


@pytest.mark.parametrize(
    ("score", "strength"),
    [(0.9, Strength.STRONG), (STRONG, Strength.STRONG), (0.3, Strength.GOOD), (GOOD, Strength.GOOD),
     (0.05, Strength.WEAK)],
)  # fmt: skip
def test_strength_bands(score, strength):
    assert strength_of(score) is strength


def test_every_demo_score_is_a_probability_with_non_negative_parts(demo):
    for project in demo.entities(EntityKind.PROJECT)[:10]:
        for ranking in (demo.partners_for(project.id, k=10), demo.calls_for(project.id, k=10)):
            for m in ranking:
                assert 0.0 <= m.score <= 1.0
                assert m.strength is strength_of(m.score)
                parts = m.reasons.score_parts
                assert all(v >= 0 for v in parts.values()), parts
                if parts:
                    assert sum(parts.values()) == pytest.approx(m.score, abs=1e-4)


def test_the_service_uses_calibrated_scorers_on_the_demo(demo):
    for kind in (EntityKind.ORGANISATION, EntityKind.CALL):
        assert demo.calibration(kind).manifest.get("candidates"), kind


@pytest.mark.parametrize(
    "text",
    [
        "asdf qwer zxcv",
        "genterapi cancer",
        "Vi utvecklar genterapi för barn med svåra sjukdomar",
        "The football club signed two new players and the coach expects a strong season.",
        "Our furniture company reports quarterly sales growth in the Nordic market.",
    ],
)
def test_nothing_fits_gibberish_off_topic_or_a_language_the_model_does_not_read(demo, text):
    for to in (Target.PARTNERS, Target.CALLS):
        ranking = demo.search(text, to, k=5)
        assert ranking.nothing_fits and ranking.notice.startswith("Nothing fits")
        assert all(m.strength is Strength.WEAK for m in ranking)


def test_a_real_abstract_fits_and_outscores_a_short_query(demo):
    ranking = demo.search(ABSTRACT, Target.PARTNERS, k=5)
    assert not ranking.nothing_fits and ranking.notice == ""
    assert ranking[0].strength is not Strength.WEAK
    short = demo.search("genterapi cancer", Target.PARTNERS, k=1)
    assert short[0].score < ranking[0].score
