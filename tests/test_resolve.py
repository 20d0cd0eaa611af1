"""Entity resolution of organisations: normalisation rules, clusters, reviews, a reviewer's
decisions."""

import random

import pytest

from matcher.errors import InvalidQuery, NotFound
from matcher.sources.resolve import Candidate, merge, normalise, resolve, split


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("UNIVERSITY OF OXFORD", "university oxford"),  # casefold, stop word 'of'
        ("The University of Oxford", "university oxford"),  # 'the'
        ("Universitätsklinikum Köln", "university hospital koln"),  # accents, German compound
        ("Universitatsklinikum Koln", "university hospital koln"),  # accents already dropped
        ("UNIVERSITAETSKLINIKUM KOELN", "university hospital koeln"),  # CORDIS' transliteration
        ("Københavns Universitet", "kobenhavns university"),  # ø, Danish
        ("Univ. of Oxford", "university oxford"),  # Univ.
        ("Uni Basel", "university basel"),
        ("Mount Sinai Hosp.", "mount sinai hospital"),  # Hosp.
        ("Pasteur Inst.", "pasteur institute"),  # Inst.
        ("Gene Therapy Ctr", "gene therapy centre"),  # Ctr
        ("Gene Therapy Center", "gene therapy centre"),  # Center
        ("St. Jude Children's Research Hospital", "saint jude childrens research hospital"),
        ("Johnson & Johnson", "johnson and johnson"),  # &
        ("Acme AB", "acme"),
        ("Acme AB (publ)", "acme"),
        ("Acme GmbH", "acme"),
        ("Acme S.A.", "acme"),
        ("Acme Ltd", "acme"),
        ("Acme Limited", "acme"),
        ("Acme, Inc.", "acme"),
        ("Acme B.V.", "acme"),
        ("Acme S.p.A.", "acme"),
        ("Acme SpA", "acme"),
        ("Acme Oy", "acme"),
        ("Acme AS", "acme"),
        ("Acme A/S", "acme"),
        ("Acme GmbH & Co. KG", "acme"),
        ("Merck & Co., Inc.", "merck"),
        ("Acme Pharmaceuticals", "acme pharma"),  # one word for a company's trade
        ("L'Hôpital Saint-Louis", "hospital saint louis"),  # elision, French
        ("Centre Hospitalier Universitaire de Nantes", "centre hospital university nantes"),
        ("CHU de Nantes", "centre hospital university nantes"),
        ("Karolinska Institutet", "karolinska institute"),
        ("Oxford University Hospitals NHS Foundation Trust", "oxford university hospital"),
        ("AS", "as"),  # a name that is only a legal form stays
    ],
)
def test_each_normalisation_rule(a, b):
    assert normalise(a) == b


def test_word_order_is_kept_but_does_not_matter_to_resolve():
    assert normalise("Heidelberg University Hospital") == "heidelberg university hospital"
    r = resolve(
        [
            Candidate("A", "Universitätsklinikum Heidelberg", "DE"),
            Candidate("B", "Heidelberg University Hospital", "DE"),
        ]
    )
    assert r.same("A", "B")


def test_the_same_identifier_merges_with_confidence_one():
    r = resolve(
        [
            Candidate("CORDIS:1", "ACME THERAPEUTICS AB", "SE", {"pic": "999", "source": "cordis"}),
            Candidate("O-001", "Nordic Cell Company", "SE", {"pic": "999"}),
            Candidate("O-002", "Nordic Cell Compagny", "SE", {"source": "cordis"}),
        ]
    )
    cluster = r.cluster_of("CORDIS:1")
    assert cluster.members == ("CORDIS:1", "O-001", "O-002")
    assert cluster.confidence < 1.0  # O-002 joined by name
    both = resolve(
        [Candidate("a", "X", "SE", {"ror": "r1"}), Candidate("b", "Y", "DE", {"ror": "r1"})]
    )
    assert both.same("a", "b") and both.cluster_of("a").confidence == 1.0  # even across countries


def test_source_is_not_a_linking_identifier():
    r = resolve([Candidate("a", "Alpha", "SE", {"source": "cordis"}),
                 Candidate("b", "Omega", "SE", {"source": "cordis"})])  # fmt: skip
    assert not r.same("a", "b")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("ACME THERAPEUTICS AB", "Acme Therapeutics"),
        ("Univ. of Gothenburg", "University of Gothenburg"),
        ("Gothenburg University", "University of Gothenburg"),
        ("Karolinska Institutet", "Karolinska Institute"),
        ("Sahlgrenska Universitetssjukhuset", "Sahlgrenska University Hospital"),
        ("Nordic Gene Ctr", "The Nordic Gene Center"),
    ],
)
def test_fuzzy_merges(a, b):
    r = resolve([Candidate("a", a, "SE"), Candidate("b", b, "SE")])
    assert r.same("a", "b"), r.reviews
    assert 0.9 <= r.cluster_of("a").confidence <= 1.0


@pytest.mark.parametrize(
    ("a", "b", "listed"),
    [
        ("Uppsala University Hospital", "Uppsala University", False),  # hospital vs university
        ("Universitätsklinikum Heidelberg", "Universität Heidelberg", False),
        ("Acme Pharma AB", "Acme Biotech AB", True),  # what the companies do
        ("Scandinavian Cell Pharma", "Scandinavian Cell Biotech", True),
        ("Hospital 12 de Octubre", "Hospital 1 de Octubre", True),  # a number
        ("Uppsala University - Dept of Haematology", "Uppsala University", True),  # a unit
        ("Department of Haematology, Uppsala University", "Univ. of Uppsala", True),
        ("Alpha Cell Therapeutics", "Omega Gene Therapeutics", False),
    ],
)
def test_tricky_pairs_do_not_merge(a, b, listed):
    r = resolve([Candidate("a", a, "SE"), Candidate("b", b, "SE")])
    assert not r.same("a", "b")
    assert bool(r.reviews) is listed, r.reviews
    if listed:
        assert r.reviews[0].pair == ("a", "b") and r.reviews[0].why


def test_review_band_lists_near_misses():
    pair = [Candidate("a", "Genix Therapeutics", "SE"), Candidate("b", "Genexa Therapeutics", "SE")]
    near = resolve(pair, threshold=0.95, review_band=0.1)
    assert not near.same("a", "b")
    (review,) = near.reviews
    assert 0.85 <= review.score < 0.95 and "similar names" in review.why
    assert resolve(pair, threshold=0.95, review_band=0.0).reviews == ()
    assert resolve(pair, threshold=0.85).same("a", "b")
    typo = [
        Candidate("a", "Vectorion Biologics", "SE"),
        Candidate("b", "Vectorian Biologics", "SE"),
    ]
    assert resolve(typo).reviews[0].pair == ("a", "b")  # a letter apart: at 0.95, a review


def test_different_countries_never_merge_on_names():
    r = resolve([Candidate("a", "Acme Therapeutics AB", "SE"),
                 Candidate("b", "Acme Therapeutics GmbH", "DE")])  # fmt: skip
    assert not r.same("a", "b") and r.reviews == ()


def test_a_missing_country_merges_but_not_when_two_countries_fit():
    lone = Candidate("CTGOV:acme", "Acme Therapeutics")
    se = Candidate("CORDIS:1", "ACME THERAPEUTICS AB", "se")
    assert resolve([lone, se]).same("CTGOV:acme", "CORDIS:1")
    de = Candidate("CORDIS:2", "Acme Therapeutics GmbH", "DE")
    r = resolve([lone, se, de])
    assert len(r.clusters) == 3
    assert {rv.pair for rv in r.reviews} == {("CORDIS:1", "CTGOV:acme"), ("CORDIS:2", "CTGOV:acme")}
    assert all("no country" in rv.why for rv in r.reviews)


def test_legal_forms_of_two_countries_never_merge_even_through_a_third_name():
    se, nl = Candidate("a", "Cealliso Bio AB (publ)", "SE"), Candidate("b", "Cealliso Bio N.V.")
    r = resolve([se, nl, Candidate("c", "Cealliso Bio", "SE")])
    assert not r.same("a", "b") and r.same("a", "c") and not r.same("b", "c")
    assert r.reviews == ()
    assert resolve([Candidate("a", "Acme Inc."), Candidate("b", "Acme LLC")]).same("a", "b")


def test_cordis_country_codes():
    r = resolve(
        [Candidate("a", "Oxford Biomedica plc", "UK"), Candidate("b", "Oxford Biomedica", "GB")]
    )
    assert r.same("a", "b") and r.cluster_of("a").country == "GB"


def test_clusters_keep_every_alias_and_source_id():
    r = resolve(
        [
            Candidate("CORDIS:7", "KAROLINSKA INSTITUTET", "SE", {"pic": "1", "source": "cordis"}),
            Candidate("CTGOV:ki", "Karolinska Institute", None, {"source": "ctgov"}, ("KI",)),
            Candidate("O-009", "Karolinska Institutet", "SE", aliases=("Karolinska Inst.",)),
        ]
    )
    (cluster,) = r.clusters
    assert cluster.id == "O-009" and cluster.name == "Karolinska Institutet"  # the hub's own id
    assert cluster.members == ("CORDIS:7", "CTGOV:ki", "O-009")
    assert cluster.aliases == (
        "KAROLINSKA INSTITUTET", "KI", "Karolinska Inst.", "Karolinska Institute",
        "Karolinska Institutet",
    )  # fmt: skip
    assert cluster.identifiers == {"pic": ("1",), "source": ("cordis", "ctgov")}
    assert cluster.country == "SE" and len(cluster.links) == 2


def test_an_alias_links_candidates():
    r = resolve([Candidate("a", "KTH", "SE", aliases=("KTH Royal Institute of Technology",)),
                 Candidate("b", "Royal Institute of Technology KTH", "SE")])  # fmt: skip
    assert r.same("a", "b")


def test_split_undoes_a_merge_and_is_remembered():
    people = [
        Candidate("O-1", "Nordic Cell Therapeutics", "SE"),
        Candidate("CTGOV:n", "Nordic Cell Therapeutics", None),
        Candidate("CORDIS:3", "NORDIC CELL THERAPEUTICS AB", "SE"),
    ]
    r = resolve(people)
    assert len(r.clusters) == 1
    after = split(r, "O-1", ["CORDIS:3"])
    assert not after.same("O-1", "CORDIS:3") and after.same("O-1", "CTGOV:n")
    assert ("CORDIS:3", "O-1") in after.cannot_link and ("CORDIS:3", "CTGOV:n") in after.cannot_link
    assert all(rv.pair != ("CORDIS:3", "O-1") for rv in after.reviews)  # decided, not reviewed
    again = resolve(reversed(people), cannot_link=after.cannot_link, must_link=after.must_link)
    assert again.clusters == after.clusters
    rejoined = merge(after, ["CORDIS:3", "O-1"])
    assert rejoined.same("CORDIS:3", "O-1")
    assert not rejoined.same("CORDIS:3", "CTGOV:n")  # the split's other decision still holds
    assert ("CORDIS:3", "O-1") in rejoined.must_link


def test_must_link_joins_what_names_would_not():
    pair = [Candidate("a", "KTH", "SE"), Candidate("b", "Royal Institute of Technology", "SE")]
    r = resolve(pair, must_link=[("b", "a")])
    assert r.same("a", "b") and r.cluster_of("a").links[0].why.startswith("a reviewer")


def test_contradicting_decisions_and_bad_input_are_refused():
    two = [Candidate("a", "X", "SE"), Candidate("b", "X", "SE"), Candidate("c", "X", "SE")]
    with pytest.raises(InvalidQuery):
        resolve(two, must_link=[("a", "b")], cannot_link=[("b", "a")])
    with pytest.raises(InvalidQuery, match="cannot-link"):
        resolve(two, must_link=[("a", "b"), ("b", "c")], cannot_link=[("a", "c")])
    with pytest.raises(InvalidQuery, match="same id"):
        resolve([Candidate("a", "X"), Candidate("a", "Y")])
    with pytest.raises(InvalidQuery):
        resolve(two, threshold=1.5)
    r = resolve(two)
    with pytest.raises(NotFound):
        split(r, "nope", ["a"])
    with pytest.raises(InvalidQuery):
        split(r, "a", ["a", "b", "c"])
    with pytest.raises(InvalidQuery):
        split(r, "a", ["zz"])


def test_cannot_link_also_keeps_the_clusters_apart_transitively():
    same = [Candidate(i, "Vectura Gene Therapies", "NL") for i in ("a", "b", "c")]
    r = resolve(same, cannot_link=[("a", "c")])
    assert not r.same("a", "c")
    assert r.same("a", "b") or r.same("b", "c")


def test_the_result_does_not_depend_on_the_order():
    names = [
        ("CORDIS:1", "UNIVERSITAETSKLINIKUM HEIDELBERG", "DE"),
        ("CTGOV:1", "Heidelberg University Hospital", None),
        ("O-1", "Universität Heidelberg", "DE"),
        ("O-2", "Heidelberg University - Dept. of Haematology", "DE"),
        ("CTGOV:2", "Acme Therapeutics, Inc.", None),
        ("CORDIS:2", "ACME THERAPEUTICS AB", "SE"),
        ("O-3", "Acme Biotech AB", "SE"),
        ("O-4", "Acme Therapeutics GmbH", "DE"),
        ("O-5", "Acme Therapeutic GmbH", "DE"),
        ("O-6", "Genix Therapeutics", "DE"),
        ("O-7", "Genexa Therapeutics", "DE"),
    ]
    candidates = [Candidate(i, n, c) for i, n, c in names]
    first = resolve(candidates)
    for seed in range(5):
        shuffled = candidates[:]
        random.Random(seed).shuffle(shuffled)
        other = resolve(shuffled)
        assert other.clusters == first.clusters and other.reviews == first.reviews


def test_blocking_finds_pairs_among_many_names():
    many = [Candidate(f"X-{i}", f"Company {i:05d} Holding", "SE") for i in range(3000)]
    many += [
        Candidate("a", "Vectorion Biologics AB", "SE"),
        Candidate("b", "Vectorion Biologics", None),
    ]
    r = resolve(many, max_block=100)
    assert r.same("a", "b")
