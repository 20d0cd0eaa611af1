"""The `matcher` command line: matching commands (`matching`), administration (`admin`)."""

from .matching import main

__all__ = ["main"]
