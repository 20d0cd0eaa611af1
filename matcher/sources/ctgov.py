"""ClinicalTrials.gov studies (API v2 JSON): one study per file, a folder of them, an API page
(`{"studies": [...]}`) or JSON lines (one study per line, optionally gzipped); reading them is
`ctgov_studies`.

The lead sponsor and the collaborators of each study become organisations `CTGOV:<slug of the
name>`; named sites become hospital units `CTGOV:site:<slug of the facility and country>`. Each
gets one profile document per study it took part in (title, summary, conditions, interventions,
phase, start date, status and its role), gathered over every study of the import before any is
yielded, so that an organisation in several studies carries all of them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .. import facts as registry
from ..domain import Document, Organisation, OrgKind
from ..errors import InvalidRecord
from .common import Progress, SourceItem
from .countries import UNKNOWN
from .ctgov_studies import Party, Trial, parse_trial, studies, study_files
from .ctgov_studies import clean_text as clean_text  # still `ctgov.clean_text`
from .kinds import ACADEMIC, CDMO, CRO, FUNDER, HOSPITAL, PHARMA, slug

NAME = "ctgov"

GENERIC_SITE = re.compile(
    r"\b(?:investigative|investigational|research|study|clinical|trial) site\b|local institution"
    r"|^site\b|\bsite (?:number|no\.?|#)?\s*\d+",
    re.I,
)
"""Placeholders sponsors write instead of a facility ('Novartis Investigative Site')."""


@dataclass
class _Involved:
    """An organisation as the studies of the import name it, and its roles in each."""

    names: Counter[str] = field(default_factory=Counter)
    classes: Counter[str] = field(default_factory=Counter)
    roles: dict[str, list[str]] = field(default_factory=dict)
    country: str = ""
    city: str = ""

    def add(self, name: str, nct: str, role: str) -> None:
        self.names[name] += 1
        roles = self.roles.setdefault(nct, [])
        if role not in roles:
            roles.append(role)


def read(path: Path, progress: Progress | None = None) -> Iterator[SourceItem | InvalidRecord]:
    """One item per organisation named in the studies (a bad study gives an InvalidRecord and
    none of its organisations' documents)."""
    files = study_files(path)
    trials: dict[str, Trial] = {}
    count = 0
    for file in files:
        for record, study in studies(file):
            count += 1
            if progress is not None and count % 100 == 0:
                progress(count)
            if len(files) > 1:
                record = f"{file.name}, {record}" if record != "study" else file.name
            try:
                trial = parse_trial(study, record)
            except InvalidRecord as error:
                yield InvalidRecord(error.reason, file=str(file), record=error.record or record,
                                    field=error.field)  # fmt: skip
                continue
            trials[trial.nct] = trial
    yield from _items(trials)


def kind_of(cls: str, name: str) -> tuple[OrgKind, str]:
    """The kind a sponsor class and a name say, and a note saying why."""

    def by(pattern: re.Pattern[str]) -> str | None:
        match = pattern.search(name)
        return match.group(0) if match else None

    said = f"class {cls}"
    if cls == "INDUSTRY":
        for pattern, kind in ((CDMO, OrgKind.CDMO), (CRO, OrgKind.CRO), (PHARMA, OrgKind.PHARMA)):
            if word := by(pattern):
                return kind, f"kind={kind} from {said} and the name ({word!r})"
        return OrgKind.BIOTECH, f"kind=biotech from {said}"
    if cls == "NIH":
        return OrgKind.FUNDER, f"kind=funder from {said}"
    if cls == "NETWORK":
        return OrgKind.OTHER, f"kind=other from {said}"
    if word := by(HOSPITAL):
        return OrgKind.HOSPITAL_UNIT, f"kind=hospital_unit from {said} and the name ({word!r})"
    if cls == "OTHER" and (word := by(ACADEMIC)):
        return OrgKind.ACADEMIC_GROUP, f"kind=academic_group from {said} and the name ({word!r})"
    if cls in ("OTHER", "FED", "OTHER_GOV") and (word := by(FUNDER)):
        return OrgKind.FUNDER, f"kind=funder from {said} and the name ({word!r})"
    if cls == "OTHER":
        return OrgKind.ACADEMIC_GROUP, f"kind=academic_group from {said}"
    return OrgKind.OTHER, f"kind=other from {said}"


def _items(trials: Mapping[str, Trial]) -> Iterator[SourceItem]:
    parties: dict[str, _Involved] = {}
    sites: dict[str, _Involved] = {}
    for trial in trials.values():
        for party, role in [(trial.lead, "lead sponsor")] + [
            (c, "collaborator") for c in trial.collaborators
        ]:
            if party.cls == "INDIV":
                continue  # a person, not an organisation
            involved = parties.setdefault(slug(party.name), _Involved())
            involved.add(party.name, trial.nct, role)
            involved.classes[party.cls] += 1
        for site in trial.sites:
            if not site.facility or GENERIC_SITE.search(site.facility):
                continue
            involved = sites.setdefault(slug(site.facility, site.country), _Involved())
            involved.add(site.facility, trial.nct, "site")
            involved.country, involved.city = site.country, involved.city or site.city
    for key in sorted(parties):
        yield _sponsor(key, parties[key], trials)
    for key in sorted(sites):
        yield _site(key, sites[key], trials)


def _most_common(counter: Counter[str]) -> str:
    return min(counter, key=lambda k: (-counter[k], k))


def _sponsor(key: str, involved: _Involved, trials: Mapping[str, Trial]) -> SourceItem:
    name = _most_common(involved.names)
    cls = _most_common(involved.classes)
    kind, why = kind_of(cls, name)
    notes = [why]
    if len(involved.names) > 1:
        notes.append(f"name as most studies write it; also {'; '.join(sorted(involved.names))}")
    countries = set().union(*(trials[nct].countries for nct in involved.roles))
    if len(countries) == 1:
        country = next(iter(countries))
        notes.append(f"country={country}: every site of its studies is in {country}")
    else:
        country = UNKNOWN
        where = f"in {len(countries)} countries" if countries else "not given"
        notes.append(
            f"country={UNKNOWN} (unknown): ClinicalTrials.gov gives no sponsor country and the "
            f"sites of its studies are {where}"
        )
    return _item(f"CTGOV:{key}", key, name, kind, country, involved, trials, notes)


def _site(key: str, involved: _Involved, trials: Mapping[str, Trial]) -> SourceItem:
    name = _most_common(involved.names)
    notes = ["kind=hospital_unit: a trial site", f"country={involved.country} from the site"]
    return _item(
        f"CTGOV:site:{key}", f"site:{key}", name, OrgKind.HOSPITAL_UNIT, involved.country,
        involved, trials, notes,
    )  # fmt: skip


def _item(
    id: str,
    source_id: str,
    name: str,
    kind: OrgKind,
    country: str,
    involved: _Involved,
    trials: Mapping[str, Trial],
    notes: list[str],
) -> SourceItem:
    ordered = sorted(involved.roles, key=lambda nct: (trials[nct].start, nct), reverse=True)
    documents = tuple(
        _document(trials[nct], ", ".join(involved.roles[nct]), name, involved.city)
        for nct in ordered
    )
    notes.append(f"{len(documents)} stud{'ies' if len(documents) != 1 else 'y'}")
    records = [trials[nct].record for nct in ordered]
    record = records[0] + (f" and {len(records) - 1} more" if len(records) > 1 else "")
    organisation = Organisation(id=id, name=name, kind=kind, country=country, profile=documents)
    return SourceItem(organisation, source_id, record, tuple(notes))


def _document(trial: Trial, roles: str, name: str, city: str) -> Document:
    facts = [trial.phase or trial.study_type, f"started {trial.start}" if trial.start else ""]
    shown = ", ".join(f for f in facts if f)
    title = f"Trial {trial.nct}" + (f" ({shown})" if shown else "") + f", {roles}"
    lines = [trial.title]
    if trial.official_title and trial.official_title != trial.title:
        lines.append(trial.official_title)
    lines += [trial.summary, trial.description]
    if trial.conditions:
        lines.append(f"Conditions: {'; '.join(trial.conditions)}.")
    if trial.keywords:
        lines.append(f"Keywords: {'; '.join(trial.keywords)}.")
    if trial.interventions:
        lines.append(f"Interventions: {'; '.join(trial.interventions)}.")
    design = ", ".join(
        part
        for part in (
            trial.phase.capitalize() or trial.study_type.capitalize(),
            trial.study_type if trial.phase else "",
            f"status {trial.status}" if trial.status else "",
            f"started {trial.start}" if trial.start else "",
            f"completion {trial.completion}" if trial.completion else "",
        )
        if part
    )
    if design:
        lines.append(design + ".")
    sponsors = f"Lead sponsor: {_shown(trial.lead)}."
    if trial.collaborators:
        sponsors += f" Collaborators: {', '.join(_shown(c) for c in trial.collaborators)}."
    lines.append(sponsors)
    where = f"{name}, {city}" if roles == "site" and city else name
    lines.append(f"{where} took part as {roles}.")
    role = next((r for key, r in _ROLES if key in roles), "")
    registered = registry.facts(
        phase=trial.phase, start=trial.start, end=trial.completion,
        conditions=trial.conditions, interventions=trial.interventions, role=role,
    )  # fmt: skip
    return Document(title, "\n".join(line for line in lines if line), registered)


_ROLES = (("lead sponsor", "lead"), ("collaborator", "collaborator"), ("site", "site"))
"""An organisation's part in a trial, most telling first, as registry facts name it."""


def _shown(party: Party) -> str:
    """A party's name, except a person's (class INDIV): no personal names in profiles."""
    return "an individual investigator" if party.cls == "INDIV" else party.name
