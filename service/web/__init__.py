"""The web pages: server-rendered HTML over the same View as the API (`pages`), its security
(sessions and CSRF in `security`), rendering (`render`), templates and static files."""

from .routes import mount

__all__ = ["mount"]
