"""Every exception the library raises. Imports nothing else from the package."""

from __future__ import annotations


class MatcherError(Exception):
    """Base class: every error of the library says what went wrong, in words that suit any
    caller (an HTTP client as well as the command line); the CLI adds which command to run."""


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
        super().__init__(f"No {kind} with id {id!r}.")


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


class InvalidRecords(InvalidRecord):
    """Several input records are malformed: `problems` holds one `InvalidRecord` per bad record
    (each naming the file, the record and the field), `omitted` how many more were not listed.
    As an `InvalidRecord` it carries the first problem's file, record and field."""

    def __init__(self, problems: list[InvalidRecord], omitted: int = 0) -> None:
        if not problems:
            raise ValueError("InvalidRecords needs at least one problem")
        first = problems[0]
        self.reason = first.reason
        self.file = first.file
        self.record = first.record
        self.field = first.field
        self.problems = list(problems)
        self.omitted = omitted
        count = len(self.problems) + omitted
        lines = [f"{count} bad record{'s' if count != 1 else ''}:"]
        lines += [f"  {problem}" for problem in self.problems]
        if omitted:
            lines.append(f"  ... and {omitted} more")
        MatcherError.__init__(self, "\n".join(lines))


class ForeignIndex(StaleIndex):
    """The saved index was built from another database than the one configured (not a stale
    index of this one: the message names both databases)."""
