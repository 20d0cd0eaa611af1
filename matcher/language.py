"""Which language a text is written in: a small function-word model, no dependency.

The matcher needs one decision per text: English (read by the default model) or not (matched
through the multilingual encoder when one is configured). Function words ("the", "och", "der")
are the most frequent words of every language and almost never shared between them, so
counting them decides a research abstract after a handful of words, whatever its technical
vocabulary (CAR-T, AAV9, CD34+ read the same in every language). Letters such as å, ä, ö count
as weak evidence, so that a short Swedish query ("genterapi för hemofili") is still seen.
A text with too little evidence is UNDETERMINED, and the matcher reads it as English.
"""

from __future__ import annotations

import re

ENGLISH = "en"
SWEDISH = "sv"
UNDETERMINED = "und"
"""Too little evidence either way: too short, only names and numbers, or a language not known
here."""

MIN_EVIDENCE = 1.0
"""The evidence (function words count 1, telling letters 0.5) a text needs before it is said
to be in any language."""


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_FUNCTION_WORDS: dict[str, frozenset[str]] = {
    "en": _set(
        "the of and to in is are was were be been for with that this these those from by on at "
        "as an a or which who whose we our us it its their they them have has had not but than "
        "into after before between about also can could should would will may must more most "
        "only such both each other all any when where while how what so because whether there "
        "per do does did within without under over against during"
    ),
    "sv": _set(
        "och att det som en ett är var för på med av till den de inte om har hade vi oss vår "
        "våra vårt man kan ska skulle blir blev bli när där eller också även men efter innan "
        "mellan under över från hos vid utan sig sin sina sitt dess deras detta dessa denna "
        "vilket vilka vilken så än både hur vad nu redan samt mot genom inom bara alla andra "
        "något några ingen inga mycket mer mest måste behöver sedan ännu dock varje"
    ),
    "da": _set(
        "og at det som en et er var for på med af til den de ikke om har havde vi os vores "
        "kan skal blev bliver når hvor eller også men efter mellem fra ved uden sig sin "
        "deres denne dette disse hvilket hvordan hvad nu allerede mod gennem inden kun alle "
        "andre nogle ingen meget mere skulle"
    ),
    "no": _set(
        "og at det som en et er var for på med av til den de ikke om har hadde vi oss vår "
        "kan skal ble blir når hvor eller også men etter mellom fra ved uten seg sin "
        "deres denne dette disse hvilket hvordan hva nå allerede mot gjennom innen bare alle "
        "andre noen ingen mye mer skulle"
    ),
    "de": _set(
        "der die das und ist sind war waren zu den dem des ein eine einer eines mit von für "
        "auf nicht sich auch als wie wir unser unsere bei nach aus durch oder aber wird werden "
        "wurde kann können muss zwischen über unter ohne gegen noch nur sehr dass"
    ),
    "fr": _set(
        "le la les et est sont était des du de un une dans pour avec sur par pas ne que qui "
        "nous notre nos il elle ils leur leurs au aux ce cette ces mais ou donc comme entre "
        "sans sous après avant peut être été aussi plus très"
    ),
    "es": _set(
        "el la los las y es son era del de un una en para con por no que se su sus nosotros "
        "nuestro nuestra al lo como pero o entre sin sobre tras antes puede ser sido también "
        "más muy este esta estos estas"
    ),
    "nl": _set(
        "de het een en is zijn was waren van in voor met op aan niet dat die ook als wij we "
        "ons onze bij naar uit door of maar wordt worden werd kan kunnen moet tussen over "
        "onder zonder tegen nog alleen zeer"
    ),
    "it": _set(
        "il lo la gli le e è sono era di del della dei delle un una per con su non che chi noi "
        "nostro nostra al alla come ma o tra senza dopo prima può essere stato anche più molto "
        "questo questa questi nel nella"
    ),
}

_LETTERS: dict[str, str] = {
    "sv": "åäö",
    "da": "æøå",
    "no": "æøå",
    "de": "äöüß",
    "fr": "éèêàçù",
    "it": "àèéìòù",
}
"""Letters that English words do not use; a word holding one is weak evidence for these."""

_WORD = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*")


def evidence(text: str) -> dict[str, float]:
    """For each known language, how much of the text speaks for it: 1 per function word of
    that language, 0.5 per other word holding one of its telling letters."""
    counts = dict.fromkeys(_FUNCTION_WORDS, 0.0)
    for word in _WORD.findall(text.lower()):
        found = [lang for lang, words in _FUNCTION_WORDS.items() if word in words]
        for lang in found:
            counts[lang] += 1.0
        if not found:
            for lang, letters in _LETTERS.items():
                if any(c in letters for c in word):
                    counts[lang] += 0.5
    return counts


def detect(text: str) -> str:
    """The language of the text as an ISO 639-1 code ("en", "sv", ...), by the weight of its
    evidence; UNDETERMINED when no language has MIN_EVIDENCE. English wins a tie (the default
    model reads it, as before), then Swedish (Danish and Norwegian share most of its function
    words, and the hub is in Sweden)."""
    scores = evidence(text)
    order = list(_FUNCTION_WORDS)
    best = max(
        order,
        key=lambda lang: (scores[lang], lang == ENGLISH, lang == SWEDISH, -order.index(lang)),
    )
    return best if scores[best] >= MIN_EVIDENCE else UNDETERMINED


def is_english(text: str) -> bool:
    """Whether the default (English) model should read the text: English, or undetermined."""
    return detect(text) in (ENGLISH, UNDETERMINED)
