"""Eligibility rules stated in an EU Funding & Tenders topic's text (topic conditions and
description), each with the sentence it came from.

Only what the text states is derived; what it does not state stays 'no restriction'. The rules:

- countries: only when a sentence restricts applicants to a list ("only legal entities
  established in Denmark or Norway"); "Member States and Associated Countries" (Annex B) is no
  restriction for a hub in Sweden, a Member State.
- applicant kinds: SME-only topics ("beneficiaries must be SMEs") become biotech, CDMO and CRO,
  the companies of this domain; a university hub is not eligible for them.
- minimum consortium: "at least three independent legal entities" and the like; a topic that
  allows a single applicant is 1; a Horizon Europe RIA or IA whose conditions refer to Annex B
  of the General Annexes takes that annex's default, three independent legal entities.
- TRL: "start at TRL 4 and achieve TRL 6", "TRL 4-6", "achieve TRL 5 by the end" become a stage
  range through `STAGE_OF_TRL` (the health TRL scale: 1-2 discovery, 3-4 preclinical, 5 GMP
  process development, 6 phase 1, 7-9 phase 2 and later).
- industry partner: "the consortium must include at least one industrial partner (or SME)".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..domain import Eligibility, OrgKind, Stage

STAGE_OF_TRL = {
    1: Stage.DISCOVERY,
    2: Stage.DISCOVERY,
    3: Stage.PRECLINICAL,
    4: Stage.PRECLINICAL,
    5: Stage.GMP_PROCESS_DEVELOPMENT,
    6: Stage.PHASE_1,
    7: Stage.PHASE_2_PLUS,
    8: Stage.PHASE_2_PLUS,
    9: Stage.PHASE_2_PLUS,
}
SME_KINDS = (OrgKind.BIOTECH, OrgKind.CDMO, OrgKind.CRO)
ANNEX_B_CONSORTIUM = 3
"""Horizon Europe General Annex B: at least three independent legal entities from different
Member States or Associated Countries, one of them in a Member State (RIA and IA)."""

COUNTRY_CODES = {
    "austria": "AT",
    "belgium": "BE",
    "bulgaria": "BG",
    "croatia": "HR",
    "cyprus": "CY",
    "czechia": "CZ",
    "czech republic": "CZ",
    "denmark": "DK",
    "estonia": "EE",
    "finland": "FI",
    "france": "FR",
    "germany": "DE",
    "greece": "EL",
    "hungary": "HU",
    "iceland": "IS",
    "ireland": "IE",
    "italy": "IT",
    "latvia": "LV",
    "lithuania": "LT",
    "luxembourg": "LU",
    "malta": "MT",
    "netherlands": "NL",
    "norway": "NO",
    "poland": "PL",
    "portugal": "PT",
    "romania": "RO",
    "slovakia": "SK",
    "slovenia": "SI",
    "spain": "ES",
    "sweden": "SE",
    "switzerland": "CH",
    "ukraine": "UA",
    "united kingdom": "GB",
}
_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8}
_NUMBER = r"(\d+|one|two|three|four|five|six|seven|eight)"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_CONSORTIUM = re.compile(
    rf"(?i)\b(?:at least|a minimum of|minimum of)\s+{_NUMBER}\s+(?:\(\d+\)\s+)?"
    r"(?:(?:independent|different|eligible)\s+)*"
    r"(legal entities|entities|applicants|partners|participants|beneficiaries|organisations)\b"
)
_CONSORTIUM_CONTEXT = re.compile(
    r"(?i)consorti|must be submitted|must include|beneficiar|eligib|proposals must|composed"
)
_SINGLE = re.compile(
    r"(?i)\b(single (applicant|legal entity|beneficiary)|mono-beneficiary|one legal entity alone)"
)
_ANNEX_B = re.compile(r"(?i)Annex B of the (Horizon Europe )?Work Programme General Annexes")
_RIA_IA = re.compile(r"(?i)HORIZON\s+(JU\s+)?(Research and Innovation|Innovation) Actions")
_TRL = re.compile(r"TRL\s*(\d)(?:\s*(?:-|\u2013|to|/)\s*(?:TRL\s*)?(\d))?")
_START = re.compile(r"(?i)\b(start|starting|at the start|at least|from)\b")
_END = re.compile(r"(?i)\b(achieve|reach|by the end|end of the project|up to)\b")
_ONLY = re.compile(r"(?i)\b(only|exclusively|restricted to|limited to)\b")
_ESTABLISHED = re.compile(r"(?i)\b(established|based|located)\s+in\b")
_ASSOCIATED = re.compile(r"(?i)associated countr")
_MEMBER_STATES = re.compile(r"(?i)\b(EU )?Member States?\b|\bthe (European )?Union\b")
_SME_ONLY = re.compile(
    r"(?i)\b(applicants|beneficiaries|participants)\s+must\s+(all\s+)?be\s+(an?\s+)?"
    r"(SMEs?|small and medium[- ]sized enterprises?|small and medium enterprises?)\b"
    r"|\b(open|restricted|limited)\s+(only\s+)?to\s+SMEs\b|\bSMEs only\b"
)
_INDUSTRY = re.compile(
    rf"(?i)\b(must|shall)\s+(include|involve)\b[^.]{{0,80}}?\b(at least\s+{_NUMBER}\s+)?"
    r"(industr(y|ial) (partner|participant|beneficiar)\w*|compan(y|ies)|SMEs?|private[- ]sector"
    r" (partner|entit)\w*)\b"
)
_SME_COUNT = re.compile(rf"(?i)\bat least\s+{_NUMBER}\s+SMEs?\b")
QUOTE_LENGTH = 160


@dataclass(frozen=True)
class Derived:
    eligibility: Eligibility
    notes: tuple[str, ...]


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def quote(sentence: str) -> str:
    """The sentence as a note quotes it: one line, cut at QUOTE_LENGTH characters."""
    line = " ".join(sentence.split())
    return f'"{line if len(line) <= QUOTE_LENGTH else line[: QUOTE_LENGTH - 3] + "..."}"'


def _number(word: str) -> int:
    return int(word) if word.isdigit() else _WORDS[word.lower()]


def derive(conditions: str, description: str, types_of_action: str = "") -> Derived:
    """The rules the cleaned `conditions` and `description` state, and a note per rule naming
    the sentence it came from."""
    said = sentences(conditions) + sentences(description)
    notes: list[str] = []
    countries = _countries(said, notes)
    kinds = _applicant_kinds(said, notes)
    consortium = _consortium(said, conditions, types_of_action, notes)
    low, high = _stages(said, notes)
    industry = _industry(said, notes)
    eligibility = Eligibility(
        applicant_kinds=kinds,
        countries=countries,
        min_consortium=consortium,
        industry_partner_required=industry,
        min_stage=low,
        max_stage=high,
    )
    return Derived(eligibility, tuple(notes))


def _countries(said: list[str], notes: list[str]) -> tuple[str, ...]:
    for sentence in said:
        if not (_ONLY.search(sentence) and _ESTABLISHED.search(sentence)):
            continue
        tail = sentence[_ESTABLISHED.search(sentence).end() :]  # type: ignore[union-attr]
        named = [
            code for name, code in COUNTRY_CODES.items() if re.search(rf"(?i)\b{name}\b", tail)
        ]
        if named:
            member_states = _MEMBER_STATES.search(tail) is not None
            codes = tuple(dict.fromkeys((["EU"] if member_states else []) + named))
            notes.append(f"countries={','.join(codes)} from {quote(sentence)}")
            return codes
        if _MEMBER_STATES.search(tail) and not _ASSOCIATED.search(tail):
            notes.append(f"countries=EU from {quote(sentence)}")
            return ("EU",)
    return ()


def _applicant_kinds(said: list[str], notes: list[str]) -> tuple[OrgKind, ...]:
    for sentence in said:
        lowered = sentence.lower()
        if _SME_ONLY.search(sentence) and not ("coordinator" in lowered or "third part" in lowered):
            kinds = ",".join(k.value for k in SME_KINDS)
            notes.append(f"applicant_kinds={kinds} (SMEs only) from {quote(sentence)}")
            return SME_KINDS
    return ()


def _consortium(said: list[str], conditions: str, types_of_action: str, notes: list[str]) -> int:
    best: tuple[int, str] | None = None
    for sentence in said:
        if not _CONSORTIUM_CONTEXT.search(sentence):
            continue
        for match in _CONSORTIUM.finditer(sentence):
            count = _number(match.group(1))
            if count > 1 and (best is None or count > best[0]):
                best = (count, sentence)
    default = _annex_b(conditions, types_of_action)
    if best is not None and (default is None or best[0] >= ANNEX_B_CONSORTIUM):
        notes.append(f"min_consortium={best[0]} from {quote(best[1])}")
        return best[0]
    for sentence in said:
        if (
            _SINGLE.search(sentence)
            and re.search(r"(?i)\bmay\b|\beither\b|\bcan\b", sentence)
            and "exceptionally" not in sentence
        ):
            notes.append(f"min_consortium=1 (a single applicant may apply) from {quote(sentence)}")
            return 1
    if default is not None:
        notes.append(
            f"min_consortium={ANNEX_B_CONSORTIUM} (General Annex B default for "
            f"{' '.join(types_of_action.split())}) from {quote(default)}"
        )
        return ANNEX_B_CONSORTIUM
    return 1


def _annex_b(conditions: str, types_of_action: str) -> str | None:
    """The sentence referring a Horizon Europe RIA or IA to General Annex B's eligibility."""
    if not _RIA_IA.search(types_of_action):
        return None
    for sentence in sentences(conditions):
        if _ANNEX_B.search(sentence) and re.search(r"(?i)eligib", sentence):
            return sentence
    return None


def _stages(said: list[str], notes: list[str]) -> tuple[Stage | None, Stage | None]:
    for sentence in said:
        levels = [
            (int(m.group(1)), int(m.group(2)) if m.group(2) else None)
            for m in _TRL.finditer(sentence)
        ]
        levels = [(a, b) for a, b in levels if 1 <= a <= 9 and (b is None or a <= b <= 9)]
        if not levels or (min(a for a, _ in levels) == 1 and max(b or a for a, b in levels) == 9):
            continue
        numbers = [n for pair in levels for n in pair if n is not None]
        low: int | None = min(numbers)
        high: int | None = max(numbers)
        single = len(numbers) == 1
        if single and _END.search(sentence) and not _START.search(sentence):
            low = None
        elif single and _START.search(sentence) and not _END.search(sentence):
            high = None
        elif single:
            continue
        low_stage = STAGE_OF_TRL[low] if low is not None else None
        high_stage = STAGE_OF_TRL[high] if high is not None else None
        shown = f"TRL {low or '?'}-{high or '?'}"
        notes.append(
            f"min_stage={low_stage or 'any'}, max_stage={high_stage or 'any'} ({shown}) "
            f"from {quote(sentence)}"
        )
        return low_stage, high_stage
    return None, None


def _industry(said: list[str], notes: list[str]) -> bool:
    for sentence in said:
        if _INDUSTRY.search(sentence) or (
            _SME_COUNT.search(sentence) and re.search(r"(?i)consorti", sentence)
        ):
            notes.append(f"industry_partner_required from {quote(sentence)}")
            return True
    return False
