"""Access: API keys and passwords, users and sessions, and erasure."""

from .accounts import (
    authenticate,
    create_user,
    issue_key,
    login,
    logout,
    revoke_key,
    session_principal,
    set_password,
    update_user,
)
from .credentials import split_key
from .erasure import erase, erased_ids, erasure_ledger, ledger_path, read_ledger, replay

__all__ = [
    "authenticate",
    "create_user",
    "erase",
    "erased_ids",
    "erasure_ledger",
    "issue_key",
    "ledger_path",
    "login",
    "logout",
    "read_ledger",
    "replay",
    "revoke_key",
    "session_principal",
    "set_password",
    "split_key",
    "update_user",
]
