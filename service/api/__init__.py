"""The HTTP API: the routes over the hub's objects and matches (`routes`), sign-in and
administration (`admin`), and what they read and write (`schemas`)."""

from .admin import admin, auth
from .routes import api, operations

__all__ = ["admin", "api", "auth", "operations"]
