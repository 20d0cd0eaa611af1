"""The HTTP API: the routes over the hub's objects and matches (`routes`), sign-in and
administration (`admin`), feedback and the pipeline (`workflow`), and what they read and write
(`schemas`)."""

from .admin import admin, auth
from .routes import api, operations
from .workflow import workflow

__all__ = ["admin", "api", "auth", "operations", "workflow"]
