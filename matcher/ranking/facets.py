"""Facets: the modality, indication, capability and stage vocabulary shared by all entities.

Facets come from structured fields where an entity has them, and from its text otherwise, so that
a funding call that only says 'retinal dystrophy' in prose still shares that facet with a project.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..domain import FundingCall, Modality, Need, Organisation, OrgKind, Project, Stage

_MODALITY_TERMS: dict[Modality, str] = {
    Modality.CAR_T: r"car[- ]?t\b|chimeric antigen receptor|car[- ]?nk",
    Modality.TCR_T: r"tcr[- ]?t\b|t[- ]cell receptor",
    Modality.NK_CELL: r"\bnk[- ]cells?\b|natural killer",
    Modality.TREG: r"\btregs?\b|regulatory t[- ]cells?",
    Modality.TIL: r"\btils?\b|tumou?r[- ]infiltrating lymphocytes?",
    Modality.AAV: r"\baav\d*\b|adeno[- ]associated",
    Modality.LENTIVIRAL: r"lentivir|\blvv?\b",
    Modality.CRISPR_EDITED: r"crispr|cas9|cas12|base[- ]edit|prime[- ]edit|gene[- ]edit",
    Modality.IPSC_DERIVED: r"\bipscs?\b|induced pluripotent|pluripotent stem",
    Modality.MSC: r"\bmscs?\b|mesenchymal",
    Modality.TISSUE_ENGINEERED: r"tissue[- ]engineer|scaffold|biomaterial|bioprint|organoid",
}

_INDICATIONS: dict[str, str] = {
    "b-cell malignancies": r"b[- ]cell (?:lymphoma|leukaemia|leukemia|malignan)|dlbcl|\ball\b"
    r"|acute lymphoblastic|cd19|mantle cell",
    "multiple myeloma": r"myeloma|bcma",
    "acute myeloid leukaemia": r"acute myeloid|\baml\b",
    "solid tumours": r"solid tumou?r|glioblastoma|glioma|sarcoma|melanoma|carcinoma"
    r"|pancreatic cancer|ovarian cancer|lung cancer|neuroblastoma",
    "retinal disease": r"retin|macular|leber|ocular|ophthalm|choroideremia|achromatopsia",
    "haemophilia": r"ha?emophilia|factor (?:viii|ix)",
    "haemoglobinopathies": r"sickle|thalass|ha?emoglobinopath",
    "neuromuscular disease": r"spinal muscular|\bsma\b|duchenne|\bdmd\b|muscular dystrophy"
    r"|myopath|neuromuscular",
    "lysosomal storage disorders": r"lysosomal|mucopolysacchar|fabry|gaucher|pompe|\bmps\b"
    r"|metachromatic",
    "neurodegeneration": r"parkinson|huntington|\bals\b|amyotrophic|alzheimer|neurodegenerat",
    "type 1 diabetes": r"type 1 diabetes|\bt1d\b|islet|beta[- ]cells?",
    "cardiovascular disease": r"heart failure|cardiac|cardiomyo|myocard|cardiovascular",
    "musculoskeletal repair": r"cartilage|osteoarthrit|\bbone\b|tendon|osteo|chondr",
    "skin and wound healing": r"\bburns?\b|wound|skin|epiderm|epidermolysis",
    "graft-versus-host disease": r"graft[- ]versus[- ]host|\bgvhd\b",
    "autoimmune disease": r"lupus|\bsle\b|autoimmun|multiple sclerosis|rheumatoid|myasthenia",
    "liver disease": r"liver|hepat|cirrhosis",
    "immunodeficiency": r"immunodeficien|\bscid\b|wiskott",
    "inflammatory and lung injury": r"ards|respiratory distress|covid|sepsis|crohn|colitis"
    r"|fistula|bronchopulmonary",
    "infectious disease": r"\bhiv\b|cytomegalovirus|\bcmv\b|\bebv\b|epstein|viral infection",
}

_CAPABILITY_TERMS: dict[str, str] = {
    "gmp_manufacturing": r"\bgmp\b|good manufacturing|clean ?room|manufacturing licen",
    "viral_vector_manufacturing": r"vector (?:manufactur|production|supply)|viral vector"
    r"|plasmid|packaging cell",
    "cell_processing": r"cell processing|closed[- ]system|automated manufactur|cell expansion"
    r"|cell therapy manufactur|prodigy",
    "process_development": r"process development|scale[- ]up|tech(?:nology)? transfer"
    r"|comparability",
    "analytics_qc": r"release test|potency assay|analytic|\bqc\b|quality control|ddpcr|qpcr",
    "cro_services": r"\bcro\b|contract research|toxicolog|biodistribution|clinical operations",
    "clinical_sites": r"clinical site|phase i unit|trial unit|patient recruitment|investigator",
    "apheresis": r"apheresis|leukapheresis",
    "regulatory_advice": r"regulatory|scientific advice|\bema\b|\bfda\b|\bind\b|\bcta\b|\bimpd\b",
    "co_funding": r"co[- ]fund|grant|investment|venture|funding",
    "licensing": r"licens|in-licens|co-develop|alliance|partnering",
}

_NEED_TO_CAPABILITIES: dict[Need, tuple[str, ...]] = {
    Need.GMP_MANUFACTURING: ("gmp_manufacturing", "cell_processing"),
    Need.VECTOR_SUPPLY: ("viral_vector_manufacturing",),
    Need.PROCESS_DEVELOPMENT: ("process_development",),
    Need.ANALYTICS_QC: ("analytics_qc",),
    Need.CRO_SERVICES: ("cro_services",),
    Need.CLINICAL_SITES: ("clinical_sites", "apheresis"),
    Need.REGULATORY_ADVICE: ("regulatory_advice",),
    Need.CO_FUNDING: ("co_funding",),
    Need.INDUSTRY_PARTNER: ("licensing",),
}


def capabilities_for(need: Need) -> tuple[str, ...]:
    """The organisation capabilities that answer a project's need."""
    return _NEED_TO_CAPABILITIES[need]


_COMPILED = {
    "modality": {m.value: re.compile(p, re.I) for m, p in _MODALITY_TERMS.items()},
    "indication": {k: re.compile(p, re.I) for k, p in _INDICATIONS.items()},
    "capability": {k: re.compile(p, re.I) for k, p in _CAPABILITY_TERMS.items()},
}


@dataclass(frozen=True)
class Facet:
    family: str
    value: str

    def __str__(self) -> str:
        return f"{self.family}: {self.value.replace('_', ' ')}"


def _from_text(text: str, families: tuple[str, ...]) -> set[Facet]:
    return {
        Facet(family, value)
        for family in families
        for value, pattern in _COMPILED[family].items()
        if pattern.search(text)
    }


def canonical_indications(names: tuple[str, ...]) -> set[Facet]:
    return _from_text(" ; ".join(names), ("indication",))


@dataclass(frozen=True)
class FacetSource:
    """Where an entity's facets come from: its structured fields, and the facet families read
    from the text of each of its documents (so that leaving a document out drops its facets)."""

    fields: frozenset[Facet]
    text_families: tuple[str, ...]

    def from_documents(self, texts: list[str]) -> set[Facet]:
        facets = set(self.fields)
        for text in texts:
            facets |= _from_text(text, self.text_families)
        return facets


def facet_source(entity: Project | Organisation | FundingCall) -> FacetSource:
    """A project: what it is (modality, indications, stage) and needs (capabilities). An
    organisation: its tags, and modalities and indications named in its profile. A call: what
    its text names, co-funding, and the stages it admits."""
    facets: set[Facet] = set()
    if isinstance(entity, Project):
        facets = {Facet("modality", entity.modality.value), Facet("stage", entity.stage.value)}
        facets |= canonical_indications(entity.indications)
        for need in entity.needs:
            facets |= {Facet("capability", c) for c in _NEED_TO_CAPABILITIES[need]}
        return FacetSource(frozenset(facets), ("indication",))
    if isinstance(entity, Organisation):
        facets = {Facet("modality", m.value) for m in entity.modalities}
        facets |= canonical_indications(entity.indications)
        facets |= {Facet("capability", c) for c in entity.capabilities}
        if entity.kind in (OrgKind.PHARMA, OrgKind.BIOTECH):
            facets.add(Facet("capability", "licensing"))
        if entity.kind is OrgKind.FUNDER:
            facets.add(Facet("capability", "co_funding"))
        families = ("modality", "indication") + (() if entity.capabilities else ("capability",))
        return FacetSource(frozenset(facets), families)
    facets = {Facet("capability", "co_funding")}
    low, high = entity.eligibility.min_stage, entity.eligibility.max_stage
    if low is not None or high is not None:
        for stage in Stage:
            if (low is None or stage.order >= low.order) and (
                high is None or stage.order <= high.order
            ):
                facets.add(Facet("stage", stage.value))
    return FacetSource(frozenset(facets), ("modality", "indication"))


def facets_of(entity: Project | Organisation | FundingCall) -> set[Facet]:
    """All of an entity's facets."""
    return facet_source(entity).from_documents([d.text for d in entity.documents()])


def text_facets(
    text: str,
    modality: Modality | None = None,
    stage: Stage | None = None,
    needs: tuple[Need, ...] = (),
) -> set[Facet]:
    """A pasted text's facets: what its words name, and what the caller says of it."""
    facets = _from_text(text, ("modality", "indication", "capability"))
    if modality is not None:
        facets.add(Facet("modality", modality.value))
    if stage is not None:
        facets.add(Facet("stage", stage.value))
    for need in needs:
        facets |= {Facet("capability", c) for c in _NEED_TO_CAPABILITIES[need]}
    return facets


def shared(a: set[Facet], b: set[Facet]) -> list[Facet]:
    """Facets both sides have, ordered by family (modality, indication, capability, stage)."""
    order = {"modality": 0, "indication": 1, "capability": 2, "stage": 3}
    return sorted(a & b, key=lambda f: (order[f.family], f.value))
