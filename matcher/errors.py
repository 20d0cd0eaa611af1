"""Every exception the library raises. Imports nothing else from the package."""

from __future__ import annotations


class MatcherError(Exception):
    """Base class: every error of the library says what went wrong and what to do next."""


class ConfigError(MatcherError):
    """A setting has a value that cannot be used."""


class InvalidRecord(MatcherError):
    """An input record is malformed. Names the file, the record (line or id) and the field."""

    def __init__(self, message: str, *, file: str = "", record: str = "", field: str = "") -> None:
        self.reason = message
        self.file = file
        self.record = record
        self.field = field
        where = ", ".join(
            part
            for part in (
                f"file {file}" if file else "",
                f"record {record}" if record else "",
                f"field '{field}'" if field else "",
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)


class InvalidQuery(MatcherError):
    """A query cannot be answered as asked (empty text, bad k, unknown kind)."""


class NotFound(MatcherError):
    """No stored object has the given id."""

    def __init__(self, kind: str, id: str) -> None:
        self.kind = kind
        self.id = id
        hints = {"user": "matcher users list", "key": "matcher users keys USERNAME"}
        listable = kind in ("project", "organisation", "call")
        hint = hints.get(kind, f"matcher list {kind}s" if listable else "matcher list")
        super().__init__(f"No {kind} with id {id!r}. List the stored ids with `{hint}`.")


class StoreError(MatcherError):
    """The database cannot be opened or is in a state this version cannot use."""


class IndexNotBuilt(MatcherError):
    """No index has been built yet."""


class StaleIndex(MatcherError):
    """The saved index does not match the store or the settings."""


class ModelLoadError(MatcherError):
    """The embedding model cannot be loaded."""


class NotAuthenticated(MatcherError):
    """No credentials, or credentials that are malformed, unknown, expired or revoked."""


class PermissionDenied(MatcherError):
    """The principal's role does not allow this action (the message never names an object)."""


class Conflict(MatcherError):
    """The object already exists (a username, for instance)."""
