"""A loaded collection's derived state (document vectors, BM25 and TF-IDF indexes, phrases,
registry facts, facets, the nearest-neighbour index) saved beside its FAISS index, so that a
server starts by mapping it instead of fitting it (minutes at 100,000 organisations).

Three files in the index's folder: `derived.pkl` (the objects, pickled with protocol 5),
`derived.bin` (every array's bytes, out of band, each at a 64-byte boundary) and `derived.json`,
the manifest written last: the state's key (what it was derived from: the index's checksum and
data hash, each entity's id and content hash, the entity-resolution clusters, the code's
format), both files' SHA-256 and where each array lies. Loading maps `derived.bin` read-only,
so the arrays are pages of the file that every server process on the machine shares, and
refuses (None: derive anew) a state whose key, checksums or format differ. The unpickler admits
only this package's classes, NumPy's and SciPy's sparse matrices.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import mmap
import pickle
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .. import clock
from ..atomic import write_atomically

log = logging.getLogger(__name__)

FORMAT = 1
"""Moved on whenever what a collection derives changes, so that older states are derived anew."""
STATE_FILE = "derived.pkl"
BUFFERS_FILE = "derived.bin"
MANIFEST_FILE = "derived.json"
_ALIGN = 64


def state_key(parts: Iterable[str]) -> str:
    """The key of a state: a digest of what it is derived from, in order."""
    digest = hashlib.sha256(f"derived-format-{FORMAT}".encode())
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\x1e")
    return digest.hexdigest()


class SavedState:
    """The derived state of one collection in `directory`, for one key."""

    def __init__(self, directory: Path, key: str) -> None:
        self.directory = Path(directory)
        self.key = key

    def load(self) -> dict[str, Any] | None:
        """The saved state, its arrays mapped from disk; None when there is none for this key
        or it does not match its manifest (it is then derived anew)."""
        path = self.directory / MANIFEST_FILE
        try:
            manifest = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if manifest.get("format") != FORMAT or manifest.get("key") != self.key:
            return None
        try:
            pickled = (self.directory / STATE_FILE).read_bytes()
            with (self.directory / BUFFERS_FILE).open("rb") as f:
                size = f.seek(0, 2)
                mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else None
        except OSError as error:
            log.warning("derived state in %s unreadable (%s): deriving anew", self.directory, error)
            return None
        view = memoryview(mapped) if mapped is not None else memoryview(b"")
        if hashlib.sha256(pickled).hexdigest() != manifest.get("state_sha256") or hashlib.sha256(
            view
        ).hexdigest() != manifest.get("buffers_sha256"):
            log.warning("derived state in %s does not match its manifest: deriving anew",
                        self.directory)  # fmt: skip
            return None
        buffers = [view[start : start + length] for start, length in manifest["buffers"]]
        try:
            state = _Unpickler(io.BytesIO(pickled), buffers=buffers).load()
        except (pickle.UnpicklingError, AttributeError, ImportError, EOFError) as error:
            log.error("derived state in %s refused (%s): deriving anew", self.directory, error)
            return None
        return state if isinstance(state, dict) else None

    def save(self, state: Mapping[str, Any]) -> None:
        """Write the state, each file atomically and the manifest last: a crash leaves the old
        state, or files that do not match the manifest (derived anew), never a wrong one."""
        buffers: list[pickle.PickleBuffer] = []
        pickled = pickle.dumps(dict(state), protocol=5, buffer_callback=buffers.append)
        blob = bytearray()
        where = []
        for buffer in buffers:
            raw = buffer.raw()
            blob.extend(b"\0" * (-len(blob) % _ALIGN))
            where.append((len(blob), raw.nbytes))
            blob.extend(raw)
        self.directory.mkdir(parents=True, exist_ok=True)
        write_atomically(self.directory / BUFFERS_FILE, bytes(blob))
        write_atomically(self.directory / STATE_FILE, pickled)
        manifest = {
            "format": FORMAT,
            "key": self.key,
            "built_at": clock.stamp(clock.now()),
            "state_sha256": hashlib.sha256(pickled).hexdigest(),
            "buffers_sha256": hashlib.sha256(blob).hexdigest(),
            "bytes": len(pickled) + len(blob),
            "buffers": where,
            **{k: v for k, v in state.get("manifest", {}).items()},
        }
        write_atomically(
            self.directory / MANIFEST_FILE, (json.dumps(manifest, indent=1) + "\n").encode()
        )


_ALLOWED_MODULES = ("numpy", "scipy.sparse")
_ALLOWED_BUILTINS = frozenset({"set", "frozenset", "slice", "complex", "bytearray"})


class _Unpickler(pickle.Unpickler):
    """Admits this package's classes and functions, NumPy's and SciPy's sparse matrices."""

    def find_class(self, module: str, name: str) -> Any:
        top = module.split(".")[0]
        allowed = (
            top == "matcher"
            or module.startswith(_ALLOWED_MODULES)
            or (module == "builtins" and name in _ALLOWED_BUILTINS)
            or (module == "collections" and name in ("OrderedDict", "Counter", "defaultdict"))
        )
        if not allowed:
            raise pickle.UnpicklingError(f"derived state may not hold {module}.{name}")
        return super().find_class(module, name)
