"""The digest's links: pages under the public address, and signed tokens that let a reader give
feedback or unsubscribe from the e-mail without signing in.

Tokens are signed (HMAC-SHA256, itsdangerous) with a key kept in the database, so the command
that sends the digest and every server that receives the clicks share it. A feedback token
names one user, one pair and one verdict, and expires; an unsubscribe token names the user and
lasts long (RFC 8058 asks that the link keep working)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from matcher import Feedback, Store
from matcher.digest import Item

KEY_NAME = "digest-links"
FEEDBACK_DAYS = 28
"""A feedback link works for four weeks: long enough to act on a digest after a holiday."""
UNSUBSCRIBE_DAYS = 400
_FEEDBACK = "digest-feedback"
_UNSUBSCRIBE = "digest-unsubscribe"


class BadToken(Exception):
    """A token that was tampered with, made for something else, or has expired."""


@dataclass(frozen=True)
class FeedbackClaim:
    user_id: int
    project_id: str
    candidate_id: str
    verdict: Feedback


class Links:
    """Makes and checks the digest's links for one hub."""

    def __init__(self, secret: bytes, public_url: str) -> None:
        self._signer = URLSafeTimedSerializer(secret)
        self.base = public_url.rstrip("/")

    @classmethod
    def of(cls, store: Store, public_url: str) -> Links:
        return cls(store.signing_key(KEY_NAME), public_url)

    def page(self, path: str) -> str:
        return self.base + quote(path)

    def settings(self) -> str:
        return self.base + "/digest"

    # ------------------------------------------------------------------ feedback

    def feedback(self, user_id: int, item: Item, verdict: Feedback) -> str:
        pair = item.pair
        if pair is None:
            raise ValueError("only an item about one pair takes feedback")
        token = self._signer.dumps(
            {"u": user_id, "p": pair[0], "c": pair[1], "v": verdict.value}, salt=_FEEDBACK
        )
        return f"{self.base}/digest/feedback?{urlencode({'t': token})}"

    def feedback_claim(self, token: str) -> FeedbackClaim:
        """Raises BadToken."""
        data = self._load(token, _FEEDBACK, FEEDBACK_DAYS)
        try:
            return FeedbackClaim(
                int(data["u"]), str(data["p"]), str(data["c"]), Feedback(data["v"])
            )
        except (KeyError, TypeError, ValueError):
            raise BadToken("The link is not a feedback link.") from None

    # ------------------------------------------------------------------ unsubscribe

    def unsubscribe(self, user_id: int) -> str:
        token = self._signer.dumps({"u": user_id}, salt=_UNSUBSCRIBE)
        return f"{self.base}/digest/unsubscribe?{urlencode({'t': token})}"

    def unsubscribe_claim(self, token: str) -> int:
        """The user the token unsubscribes. Raises BadToken."""
        data = self._load(token, _UNSUBSCRIBE, UNSUBSCRIBE_DAYS)
        try:
            return int(data["u"])
        except (KeyError, TypeError, ValueError):
            raise BadToken("The link is not an unsubscribe link.") from None

    def _load(self, token: str, salt: str, days: int) -> dict[str, Any]:
        try:
            data = self._signer.loads(token, salt=salt, max_age=days * 86_400)
        except SignatureExpired:
            raise BadToken(
                "The link has expired: open the hub's pages to give feedback there."
            ) from None
        except BadSignature:
            raise BadToken("The link is damaged or was not made by this hub.") from None
        if not isinstance(data, dict):
            raise BadToken("The link is damaged or was not made by this hub.")
        return data
