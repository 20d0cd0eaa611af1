"""Organisation names reduced to a comparable form: `normalise` and what a name says about the
organisation (its kind, the department or unit it names). `resolve` compares these."""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz

# Letters that NFKD does not decompose into a base letter and a mark.
_FOLD = str.maketrans(
    {"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "\u0131": "i", "þ": "th"}
)
_ELISION = re.compile("\\b[ld]['`\u2019]")  # l'Hôpital, d'Anvers: the article goes
_APOSTROPHE = re.compile("['`\u2019]")  # King's College -> kings college
_A_S = re.compile(r"\ba\s*/\s*s\b")  # Danish and Norwegian A/S
_NON_WORD = re.compile(r"[^0-9a-z]+")


def _words(text: str) -> list[str]:
    return text.split()


ABBREVIATIONS = {
    "univ": "university",
    "uni": "university",
    "hosp": "hospital",
    "hsp": "hospital",
    "hospitals": "hospital",
    "inst": "institute",
    "instit": "institute",
    "ctr": "centre",
    "cntr": "centre",
    "center": "centre",
    "centers": "centre",
    "centres": "centre",
    "st": "saint",
    "ste": "sainte",
    "mt": "mount",
    "dept": "department",
    "dep": "department",
    "dpt": "department",
    "div": "division",
    "natl": "national",
    "intl": "international",
    "res": "research",
    "lab": "laboratory",
    "labs": "laboratories",
    "assoc": "association",
    "fdn": "foundation",
    "med": "medical",
    "pharmaceuticals": "pharma",
    "pharmaceutical": "pharma",
    "pharmaceutica": "pharma",
    "biotechnology": "biotech",
    "biotechnologies": "biotech",
    "therapeutic": "therapeutics",
    "bioscience": "biosciences",
}
"""Short forms and spelling variants, one token each, and the word they stand for."""

TRANSLATIONS = {
    **dict.fromkeys(
        _words(
            "universitat universitaet universite universidad universita universiteit universitet "
            "universitetet uniwersytet universitario universitaria universitaire universitair "
            "universitas"
        ),
        "university",
    ),
    **dict.fromkeys(
        _words(
            "hopital hopitaux hospitalier hospitaliere ospedale ospedaliera ospedaliero "
            "ziekenhuis sjukhus sjukhuset sygehus klinikum krankenhaus"
        ),
        "hospital",
    ),
    **dict.fromkeys(
        _words(
            "universitatsklinikum universitaetsklinikum uniklinikum uniklinik universitetssjukhus "
            "universitetssjukhuset universitetssykehus"
        ),
        "university hospital",
    ),
    "chu": "centre hospital university",
    "umc": "university medical centre",
    **dict.fromkeys(_words("institut instituto istituto instituut institutet"), "institute"),
    **dict.fromkeys(_words("zentrum centro centrum"), "centre"),
    **dict.fromkeys(
        _words("fondazione fundacion fundacio fondation stiftung stichting"), "foundation"
    ),
    **dict.fromkeys(_words("medisch medizinische medicale medico medica"), "medical"),
    "technische": "technical",
}
"""Words of the sources' languages for the kinds of organisation, in English, so that
'Universitätsklinikum Heidelberg' and 'Heidelberg University Hospital' read the same."""

STOP_WORDS = frozenset(
    _words(
        "the of for de del della degli delle di da der die das des du la le les van von voor fur "
        "y i och en azienda studi"
    )
)

_SHORT_FORMS = _words(
    "ab publ aktiebolag gmbh ggmbh mbh ag kgaa kg ug ev se sa sas sarl sl slu srl spa sprl bv nv "
    "vof oy oyj as asa aps plc ltd limited llc llp lp inc incorporated corp corporation co cv"
)
_LONG_FORMS = (
    "gmbh and co kg",
    "aktiengesellschaft",
    "gesellschaft mit beschrankter haftung",
    "societe anonyme",
    "sociedad anonima",
    "sociedad limitada",
    "societa per azioni",
    "societa a responsabilita limitata",
    "besloten vennootschap",
    "naamloze vennootschap",
    "osakeyhtio",
    "public limited company",
    "limited liability company",
    "nhs foundation trust",
    "nhs trust",
)
JURISDICTIONS = {
    **dict.fromkeys(_words("ab aktiebolag publ"), "SE"),
    **dict.fromkeys(_words("gmbh ggmbh mbh ag kgaa kg ug ev aktiengesellschaft"), "DE"),
    **dict.fromkeys(_words("sas sarl sa"), "FR"),
    **dict.fromkeys(_words("sl slu"), "ES"),
    **dict.fromkeys(_words("spa srl"), "IT"),
    **dict.fromkeys(_words("bv nv vof"), "NL"),
    **dict.fromkeys(_words("oy oyj osakeyhtio"), "FI"),
    **dict.fromkeys(_words("as asa aps"), "DK"),
    **dict.fromkeys(_words("plc ltd limited llp"), "GB"),
    **dict.fromkeys(_words("inc incorporated llc corp corporation"), "US"),
}
"""Legal forms that tell a company's jurisdiction: two names with forms of different ones
('Acme AB', 'Acme N.V.') are two companies. Forms several countries share (SA in FR, ES, BE
and CH; SE; Co) tell nothing, and neither does a name without one."""

LEGAL_SUFFIXES = tuple(
    sorted((tuple(s.split()) for s in (*_SHORT_FORMS, *_LONG_FORMS)), key=len, reverse=True)
)
"""Legal forms, as normalised tokens, dropped from the end of a name (repeatedly: 'AB (publ)')."""

_LEGAL = frozenset(LEGAL_SUFFIXES)

HOSPITAL_WORDS = frozenset({"hospital", "clinic", "clinics"})
UNIVERSITY_WORDS = frozenset({"university", "college"})
UNIT_WORDS = frozenset(
    {"department", "division", "unit", "faculty", "section", "laboratory", "lab"}
)
INSTITUTION_WORDS = UNIVERSITY_WORDS | HOSPITAL_WORDS | {"institute", "centre", "school"}
DESCRIPTORS = frozenset(
    {"pharma", "biotech", "therapeutics", "biosciences", "bio", "biologics", "diagnostics",
     "medical", "genomics", "vaccines", "devices", "cdmo", "manufacturing", "research"}
)  # fmt: skip
"""What a company says it does; two names that differ in these name two companies."""


def _tokens(name: str) -> list[str]:
    text = name.casefold().translate(_FOLD)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = _ELISION.sub(" ", text)
    text = _APOSTROPHE.sub("", text)
    text = _A_S.sub("as", text).replace("&", " and ").replace("+", " and ")
    raw = _NON_WORD.sub(" ", text).split()
    # Runs of single letters are one dotted or spaced abbreviation: S.p.A., B V, e.V.
    joined: list[str] = []
    run: list[str] = []
    for token in [*raw, ""]:
        if len(token) == 1 and token.isalpha():
            run.append(token)
            continue
        if run:
            joined.append("".join(run))
            run = []
        if token:
            joined.append(token)
    words: list[str] = []
    for token in joined:
        token = ABBREVIATIONS.get(token, token)
        words.extend(TRANSLATIONS.get(token, token).split())
    return words


def _drop_legal_suffixes(words: list[str], dropped: list[str] | None = None) -> list[str]:
    stripped = True
    while stripped and len(words) > 1:
        stripped = False
        for suffix in LEGAL_SUFFIXES:
            n = len(suffix)
            if len(words) > n and tuple(words[-n:]) == suffix:
                if dropped is not None:
                    dropped.extend(words[-n:])
                words = words[:-n]
                stripped = True
                break
        if stripped and words[-1] in ("and", "und"):  # Merck & Co, GmbH & Co. KG
            words = words[:-1]
    return words


def normalise(name: str) -> str:
    """A name reduced to what identifies the organisation: casefolded, accents folded,
    punctuation gone, abbreviations expanded ('Univ.' -> university, 'Ctr' -> centre, 'St.' ->
    saint, '&' -> and), the sources' languages' words for university, hospital, institute,
    centre and foundation in English, stop words ('the', 'of', 'de'...) and legal forms at the
    end (AB, GmbH, S.A., Ltd, Inc., B.V., SpA, Oy, A/S...) dropped. Word order is kept."""
    words = _drop_legal_suffixes(_tokens(name))
    kept = [w for w in words if w not in STOP_WORDS]
    return " ".join(kept or words)


def kind_of(words: frozenset[str]) -> str:
    """'hospital' (a university hospital is a hospital), 'university' or '' (anything else)."""
    if words & HOSPITAL_WORDS or {"medical", "centre"} <= words:
        return "hospital"
    if words & UNIVERSITY_WORDS:
        return "university"
    return ""


_SEGMENTS = re.compile("\\s+[-|\u2013\u2014]\\s+|[,;()/]")


@dataclass(frozen=True)
class NameForm:
    """One name of a candidate, normalised, with what it says about the organisation."""

    text: str
    """The normalised name."""
    key: str
    """Its words sorted: two names with the same words in another order have the same key."""
    kind: str
    institution: str
    """For a department's or unit's name, the institution's normalised name; else ''."""
    unit: str
    """For a department's or unit's name, the unit's normalised name; else ''."""
    descriptors: frozenset[str]
    stem: str
    """The key without the descriptors: 'acme' for 'Acme Pharma'."""
    numbers: frozenset[str]
    jurisdictions: frozenset[str] = frozenset()


def _sorted_key(text: str) -> str:
    return " ".join(sorted(text.split()))


def _split_unit(name: str) -> tuple[str, str]:
    """(institution, unit) for 'University of X - Dept of Haematology', 'Department of
    Haematology, X University Hospital' or 'Division of Y University of X'; ('', '') for a name
    that names no unit, or only a unit."""
    parts = [normalise(p) for p in _SEGMENTS.split(name)]
    parts = [p for p in parts if p and tuple(p.split()) not in _LEGAL]
    units = [p for p in parts if p.split()[0] in UNIT_WORDS or p.split()[-1] in UNIT_WORDS]
    if not units:
        return "", ""
    rest = [p for p in parts if p not in units]
    if rest:
        return " ".join(rest), " ".join(units)
    words = units[0].split()
    if words[0] in UNIT_WORDS:
        for i, word in enumerate(words[1:], 1):
            if word in INSTITUTION_WORDS:
                return " ".join(words[i:]), " ".join(words[:i])
    return "", ""


def name_form(name: str) -> NameForm:
    text = normalise(name)
    dropped: list[str] = []
    _drop_legal_suffixes(_tokens(name), dropped)
    words = frozenset(text.split())
    institution, unit = _split_unit(name)
    return NameForm(
        text=text,
        key=_sorted_key(text),
        kind=kind_of(frozenset(institution.split()) if institution else words),
        institution=_sorted_key(institution),
        unit=_sorted_key(unit),
        descriptors=words & DESCRIPTORS,
        stem=" ".join(w for w in _sorted_key(text).split() if w not in DESCRIPTORS),
        numbers=frozenset(w for w in words if any(c.isdigit() for c in w)),
        jurisdictions=frozenset(JURISDICTIONS[w] for w in dropped if w in JURISDICTIONS),
    )


def compare(a: NameForm, b: NameForm, threshold: float, low: float) -> tuple[float, str, str]:
    """(score, verdict, why) for two names: verdict 'merge', 'review' or '' (neither)."""
    if {a.kind, b.kind} == {"hospital", "university"}:
        return 0.0, "", "a hospital and a university"
    if a.jurisdictions and b.jurisdictions and not a.jurisdictions & b.jurisdictions:
        return 0.0, "", "legal forms of two countries"
    if bool(a.unit) != bool(b.unit):
        unit, whole = (a, b) if a.unit else (b, a)
        score = fuzz.ratio(unit.institution, whole.key) / 100
        if score >= low:
            return score, "review", f"a unit ({unit.unit!r}) of {whole.text!r}?"
        return score, "", ""
    if a.unit:
        score = min(fuzz.ratio(a.institution, b.institution), fuzz.ratio(a.unit, b.unit)) / 100
    else:
        score = fuzz.ratio(a.key, b.key) / 100
    if a.descriptors and b.descriptors and a.descriptors != b.descriptors:
        stems = fuzz.ratio(a.stem, b.stem) / 100
        if stems >= threshold:
            what = "/".join(sorted(a.descriptors ^ b.descriptors))
            return stems, "review", f"the same name but what they do differs ({what})"
    if score < low:
        return score, "", ""
    if score < threshold:
        return score, "review", f"similar names: {a.text!r} ~ {b.text!r}"
    if a.numbers != b.numbers:
        return score, "review", f"the names differ in a number: {a.text!r} ~ {b.text!r}"
    return score, "merge", f"names {score:.2f}: {a.text!r} ~ {b.text!r}"


class NameRows:
    """Every name of every owner (a candidate) as one row to compare: a unit's name gives a
    second row, its institution's."""

    def __init__(self, names: Iterable[Iterable[str]]) -> None:
        self.owner: list[int] = []
        self.forms: list[NameForm] = []
        for i, owned in enumerate(names):
            for name in dict.fromkeys(owned):
                form = name_form(name)
                if not form.key:
                    continue
                self.owner.append(i)
                self.forms.append(form)
                # A unit's name is also compared as its institution's, a company's without
                # what it does, so that blocking finds these pairs for `compare`.
                for also in sorted({form.institution, form.stem} - {"", form.key}):
                    self.owner.append(i)
                    self.forms.append(dataclasses.replace(form, key=also))

    def blocks(self, max_block: int) -> Iterable[list[int]]:
        """Rows grouped by each word they share, leaving out words that more than `max_block`
        rows hold (a row whose words are all that common is blocked on its rarest word)."""
        by_word: defaultdict[str, list[int]] = defaultdict(list)
        for r, form in enumerate(self.forms):
            for word in set(form.key.split()):
                by_word[word].append(r)
        for form in self.forms:
            words = set(form.key.split())
            if all(len(by_word[w]) > max_block for w in words):
                rarest = min(words, key=lambda w: (len(by_word[w]), w))
                yield by_word[rarest]
        for rows in by_word.values():
            if 1 < len(rows) <= max_block:
                yield rows
