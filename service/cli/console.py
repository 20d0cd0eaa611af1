"""What every CLI command shares: settings read at the edge, library errors as one-line messages."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

import click

from matcher import (
    IndexNotBuilt,
    MatcherError,
    NotAuthenticated,
    NotFound,
    Settings,
    StaleIndex,
)

F = TypeVar("F", bound=Callable[..., Any])


def _settings() -> Settings:
    try:
        return Settings.from_env(os.environ)
    except MatcherError as error:
        raise click.ClickException(str(error)) from error


def _friendly(command: F) -> F:
    """Turn library errors into a one-line message, with the command that helps, and exit
    status 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except MatcherError as error:
            raise click.ClickException(f"{error}{_advice(error)}") from error

    return wrapper  # type: ignore[return-value]


LISTS = {
    "project": "matcher list projects",
    "organisation": "matcher list organisations",
    "call": "matcher list calls",
    "user": "matcher users list",
    "key": "matcher users keys USERNAME",
}
"""The command that lists the stored ids of each kind of object (any other kind: `matcher list`)."""


def _advice(error: MatcherError) -> str:
    """What to run next, for errors whose fix is a command: the library's messages name the
    problem only, since they also reach HTTP callers."""
    if isinstance(error, NotFound):
        return f" List the stored ids with `{LISTS.get(error.kind, 'matcher list')}`."
    if isinstance(error, IndexNotBuilt | StaleIndex):
        return " Run `matcher build`."
    if isinstance(error, NotAuthenticated):
        return " An admin issues keys with `matcher users key USERNAME`."
    return ""
