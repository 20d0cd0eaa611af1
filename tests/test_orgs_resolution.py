"""Entity resolution over the stored organisations, on both databases: organisations imported
from CORDIS and ClinicalTrials.gov that are one are clustered (the CORDIS participant id as an
identifier, names otherwise), the clusters are stored, a person's split or merge is kept for
every later resolution, and an erased organisation leaves no cluster or decision behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from matcher import NotFound, Store
from matcher.sources import import_source
from matcher.sources.orgs import candidates, decide, resolve_stored
from service.cli import main

SOURCES = Path(__file__).parent / "data" / "sources"
HELIXA = ("CORDIS:999000004", "CTGOV:helixa-therapeutics-gmbh")

pytestmark = pytest.mark.both_databases


@pytest.fixture
def store(database) -> Store:
    with Store(database) as store:
        import_source(store, "cordis", SOURCES / "cordis" / "csv")
        import_source(store, "ctgov", SOURCES / "ctgov" / "studies")
        yield store


def test_imported_organisations_that_are_one_are_clustered_and_stored(store):
    found = {c.id: c for c in candidates(store)}
    assert found[HELIXA[0]].identifiers == {"pic": "999000004"}
    assert found[HELIXA[1]].country is None or found[HELIXA[1]].country != "ZZ"
    resolution = resolve_stored(store)
    assert resolution.same(*HELIXA)
    stored = store.org_clusters()
    assert stored[HELIXA[1]][0] == resolution.cluster_of(HELIXA[1]).id
    assert stored[HELIXA[0]][0] == stored[HELIXA[1]][0]
    # A company is not one with a hospital of the same country.
    hospital = next(c.id for c in found.values() if "Hospital" in c.name)
    assert not resolution.same(HELIXA[0], hospital)


def test_a_split_is_kept_and_a_merge_too(store):
    resolve_stored(store)
    apart = decide(store, *HELIXA, same=False, by="reviewer")
    assert not apart.same(*HELIXA)
    assert HELIXA[1] not in store.org_clusters()
    assert not resolve_stored(store).same(*HELIXA)  # the decision holds
    assert store.org_decisions() == [(*sorted(HELIXA), False)]
    others = sorted(c.id for c in candidates(store) if c.id.startswith("CORDIS:"))[:2]
    together = decide(store, *others, same=True, by="reviewer")
    assert together.same(*others)
    assert store.org_clusters()[others[0]][0] == store.org_clusters()[others[1]][0]
    with pytest.raises(NotFound):
        decide(store, HELIXA[0], "CORDIS:nobody", same=True, by="reviewer")


def test_an_erased_organisation_leaves_no_cluster_or_decision(store):
    resolve_stored(store)
    store.decide_orgs(*HELIXA, True, "reviewer")
    store.erase("organisation", HELIXA[1], "admin")
    assert HELIXA[1] not in store.org_clusters()
    assert store.org_decisions() == []
    resolution = resolve_stored(store)
    assert HELIXA[1] not in {c.id for c in resolution.candidates}
    assert HELIXA[0] not in store.org_clusters()  # alone now: no longer in a cluster


@pytest.mark.sqlite_only
def test_the_orgs_commands(store, monkeypatch):
    monkeypatch.setenv("MATCHER_DB_PATH", str(store.path))
    runner = CliRunner()
    review = runner.invoke(main, ["orgs", "review"], catch_exceptions=False)
    assert review.exit_code == 0, review.output
    assert "clusters join" in review.output and HELIXA[1] in review.output
    split = runner.invoke(main, ["orgs", "split", *HELIXA], catch_exceptions=False)
    assert split.exit_code == 0 and "kept apart" in split.output
    missing = runner.invoke(main, ["orgs", "merge", HELIXA[0], "CORDIS:nobody"])
    assert missing.exit_code == 1 and "CORDIS:nobody" in missing.output
