"""What every CLI command shares: settings read at the edge, library errors as one-line messages."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

import click

from matcher import MatcherError, Settings

F = TypeVar("F", bound=Callable[..., Any])


def _settings() -> Settings:
    try:
        return Settings.from_env(os.environ)
    except MatcherError as error:
        raise click.ClickException(str(error)) from error


def _friendly(command: F) -> F:
    """Turn library errors into a one-line message and exit status 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except MatcherError as error:
            raise click.ClickException(str(error)) from error

    return wrapper  # type: ignore[return-value]
