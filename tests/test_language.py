"""Language detection: English, Swedish, mixed and short texts."""

import pytest

from matcher.language import ENGLISH, SWEDISH, UNDETERMINED, detect, evidence, is_english

ENGLISH_ABSTRACT = (
    "Roughly a third of children who receive a CD19-directed CAR-T product relapse, frequently "
    "with CD19-negative leukaemia. We want a second manufacturing site running a closed process."
)
SWEDISH_ABSTRACT = (
    "Ungefär en tredjedel av de barn som behandlas med CD19-riktad CAR-T får återfall, ofta med "
    "CD19-negativ leukemi. Vi söker därför en andra tillverkningsplats med en sluten process."
)


def test_an_english_abstract_is_english():
    assert detect(ENGLISH_ABSTRACT) == ENGLISH
    assert is_english(ENGLISH_ABSTRACT)


def test_a_swedish_abstract_is_swedish():
    assert detect(SWEDISH_ABSTRACT) == SWEDISH
    assert not is_english(SWEDISH_ABSTRACT)


def test_swedish_full_of_english_terms_is_still_swedish():
    text = (
        "Vi behöver GMP-grade editor mRNA och guide RNA, en partner med closed electroporation "
        "och ett off-target program som regulators accepterar."
    )
    assert detect(text) == SWEDISH


def test_english_naming_swedish_places_is_still_english():
    text = (
        "The trial runs at Karolinska Universitetssjukhuset in Stockholm and at Sahlgrenska in "
        "Göteborg, with patients referred from Skåne and Västra Götaland."
    )
    assert detect(text) == ENGLISH


def test_a_text_half_in_each_language_goes_to_the_larger_half():
    assert detect(f"{SWEDISH_ABSTRACT} {SWEDISH_ABSTRACT} {ENGLISH_ABSTRACT}") == SWEDISH
    assert detect(f"{ENGLISH_ABSTRACT} {ENGLISH_ABSTRACT} {SWEDISH_ABSTRACT}") == ENGLISH


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("genterapi för hemofili", SWEDISH),
        ("CAR-T vid lupus och myosit", SWEDISH),
        ("CAR-T for lupus and myositis", ENGLISH),
        ("AAV9", UNDETERMINED),
        ("CD19 CAR-T", UNDETERMINED),
        ("", UNDETERMINED),
        ("Brenner-Kolb AG", UNDETERMINED),
    ],
)
def test_short_texts(text, language):
    assert detect(text) == language


def test_too_little_evidence_reads_as_english():
    assert is_english("CD19 CAR-T")
    assert is_english("")


def test_other_languages_are_not_english():
    assert detect("Die Herstellung der Zellen erfolgt in einem geschlossenen System.") == "de"
    assert detect("La fabrication des cellules se fait dans un système fermé.") == "fr"
    assert not is_english("La fabrication des cellules se fait dans un système fermé.")


def test_evidence_counts_function_words_and_telling_letters():
    counts = evidence("och för genersättning")
    assert counts["sv"] == 2.5  # och, för; genersättning holds an ä
    assert counts["en"] == 0


def test_english_wins_a_tie():
    assert detect("under review") == ENGLISH  # "under" is a word of both
