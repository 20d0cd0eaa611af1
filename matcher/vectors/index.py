"""FAISS vector indexes whose ids are store ids, saved with a manifest that describes them.

`faiss` is imported in this module only, and only when an index is made or loaded (commands that
never touch an index start faster).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import clock
from ..atomic import write_atomically
from ..errors import ForeignIndex, IndexNotBuilt, StaleIndex

FORMAT = 1
INDEX_FILE = "index.faiss"
CONTENTS_FILE = "contents.json"
MANIFEST_FILE = "manifest.json"
REBUILD = "Rebuild the indexes."
"""The fix, in words that suit an HTTP caller too; the CLI adds the command."""


@dataclass(frozen=True)
class Manifest:
    """What an index was built from; `load` compares it with what the caller expects."""

    kind: str
    model: str
    dim: int
    count: int
    data_hash: str
    built_at: str
    index_sha256: str = ""
    format: int = FORMAT
    sentences: bool = True
    """Whether every sentence was embedded at build time too (for the reasons)."""
    database_id: str = ""
    """The identity of the database it was built from (`Store.database_id`); empty in manifests
    written before indexes recorded it, which are therefore stale."""
    database: str = ""
    """That database's path, for the message when another database is pointed at the index."""
    contents_sha256: str = ""
    """The checksum of the contents file (each vector's id and its text's hash), which lets the
    next build update the index in place; empty where none was written."""


def _faiss() -> Any:
    import faiss

    return faiss


class VectorIndex:
    """Exact inner-product search over unit vectors, keyed by int64 store ids."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        faiss = _faiss()
        self._index: Any = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: npt.ArrayLike, vectors: npt.NDArray[np.float32]) -> None:
        ids_array = np.asarray(ids, dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"expected vectors of shape (n, {self.dim}), got {vectors.shape}")
        if len(ids_array) != len(vectors):
            raise ValueError("ids and vectors differ in length")
        if len(ids_array):
            self._index.add_with_ids(vectors, ids_array)

    def remove(self, ids: npt.ArrayLike) -> int:
        """Drop the vectors of these ids (unknown ids are ignored); how many were dropped."""
        ids_array = np.asarray(ids, dtype=np.int64)
        if not len(ids_array):
            return 0
        return int(self._index.remove_ids(ids_array))

    @property
    def ids(self) -> npt.NDArray[np.int64]:
        id_map = _faiss().vector_to_array(self._index.id_map)
        return np.asarray(id_map, dtype=np.int64)

    def vectors(self, ids: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """The stored vectors of the given ids. Raises KeyError for an unknown id."""
        wanted = np.asarray(ids, dtype=np.int64)
        out = np.zeros((len(wanted), self.dim), dtype=np.float32)
        for row, i in enumerate(wanted):
            try:
                out[row] = self._index.reconstruct(int(i))
            except RuntimeError:
                raise KeyError(int(i)) from None
        return out

    def search(
        self, queries: npt.NDArray[np.float32], k: int
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """Scores and ids of the k nearest vectors per query row, best first (id -1 pads)."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = max(1, min(k, len(self))) if len(self) else 1
        scores, ids = self._index.search(queries, k)
        return scores.astype(np.float32), ids.astype(np.int64)

    def save(
        self, directory: Path, manifest: Manifest, contents: Mapping[int, str] | None = None
    ) -> Manifest:
        """Write the index, its contents (id -> text hash, where given) and then its manifest,
        each atomically; a crash leaves a loadable old set or one that `load` rejects as stale,
        never a silently wrong one."""
        directory.mkdir(parents=True, exist_ok=True)
        blob = _faiss().serialize_index(self._index).tobytes()
        listed = b""
        if contents is not None:
            listed = json.dumps({str(i): h for i, h in sorted(contents.items())}).encode()
        manifest = Manifest(
            **{
                **asdict(manifest),
                "count": len(self),
                "dim": self.dim,
                "index_sha256": hashlib.sha256(blob).hexdigest(),
                "contents_sha256": hashlib.sha256(listed).hexdigest() if listed else "",
            }
        )
        write_atomically(directory / INDEX_FILE, blob)
        if listed:
            write_atomically(directory / CONTENTS_FILE, listed)
        write_atomically(
            directory / MANIFEST_FILE, (json.dumps(asdict(manifest), indent=2) + "\n").encode()
        )
        return manifest

    @classmethod
    def load(
        cls,
        directory: Path,
        *,
        kind: str,
        model: str,
        data_hash: str | None,
        database_id: str,
        database: str,
    ) -> tuple[VectorIndex, Manifest]:
        """Load an index, refusing one built from another database (ForeignIndex, naming both),
        or for other data or another model (StaleIndex). With `data_hash` None, an index of
        other data is loaded too (to be updated in place)."""
        manifest = read_manifest(directory)
        if manifest.database_id and manifest.database_id != database_id:
            raise ForeignIndex(_foreign(directory, manifest, database_id, database))
        problems = []
        if not manifest.database_id:
            problems.append("it does not record the database it was built from")
        if manifest.format != FORMAT:
            problems.append(f"format {manifest.format}, this release reads {FORMAT}")
        if manifest.kind != kind:
            problems.append(f"it indexes {manifest.kind}, not {kind}")
        if manifest.model != model:
            problems.append(f"built with model {manifest.model!r}, configured {model!r}")
        if data_hash is not None and manifest.data_hash != data_hash:
            problems.append("the stored data changed since it was built")
        if problems:
            raise StaleIndex(f"The index in {directory} is stale: {'; '.join(problems)}. {REBUILD}")
        blob = (directory / INDEX_FILE).read_bytes()
        if hashlib.sha256(blob).hexdigest() != manifest.index_sha256:
            raise StaleIndex(f"{directory / INDEX_FILE} does not match its manifest. {REBUILD}")
        index = cls(manifest.dim)
        index._index = _faiss().deserialize_index(np.frombuffer(blob, dtype=np.uint8))
        if len(index) != manifest.count:
            raise StaleIndex(f"{directory} holds {len(index)} vectors, manifest {manifest.count}.")
        return index, manifest


def read_contents(directory: Path, manifest: Manifest) -> dict[int, str] | None:
    """Each indexed vector's id and its text's hash, as `save` wrote them with this manifest;
    None where they were not written or do not match it."""
    path = directory / CONTENTS_FILE
    if not manifest.contents_sha256 or not path.exists():
        return None
    blob = path.read_bytes()
    if hashlib.sha256(blob).hexdigest() != manifest.contents_sha256:
        return None
    return {int(i): str(h) for i, h in json.loads(blob).items()}


def read_manifest(directory: Path) -> Manifest:
    path = directory / MANIFEST_FILE
    if not path.exists() or not (directory / INDEX_FILE).exists():
        raise IndexNotBuilt(f"No index in {directory}: build the indexes first.")
    try:
        return Manifest(**json.loads(path.read_text()))
    except (ValueError, TypeError) as error:
        raise StaleIndex(f"{path} is not a valid manifest ({error}). {REBUILD}") from error


def _foreign(directory: Path, manifest: Manifest, database_id: str, database: str) -> str:
    built = f"{manifest.database or 'a database'} (database {manifest.database_id[:8]})"
    current = f"{database} (database {database_id[:8]})"
    if os.path.abspath(manifest.database or "") == os.path.abspath(database):
        return (
            f"{directory} was built from an earlier database at {built}, not from the one there "
            f"now, {current}. {REBUILD}"
        )
    setting = "MATCHER_DATABASE_URL" if "://" in (manifest.database or "") else "MATCHER_DB_PATH"
    return (
        f"{directory} was built from {built}, not from {current}. Rebuild the indexes, or set "
        f"{setting}={manifest.database} to use the database it was built from."
    )


def new_manifest(
    kind: str,
    model: str,
    data_hash: str,
    sentences: bool = True,
    *,
    database_id: str,
    database: str,
) -> Manifest:
    """A manifest to `save` with an index; `save` fills in the count, dim and checksum."""
    built_at = clock.stamp(clock.now())
    return Manifest(
        kind=kind, model=model, dim=0, count=0, data_hash=data_hash, built_at=built_at,
        sentences=sentences, database_id=database_id, database=database,
    )  # fmt: skip


FLAT_LIMIT = 50_000
"""Up to this many vectors, candidates come from the exact product with every vector; above it,
from an inverted-file index (IVF) whose lists are searched only near the query."""


@dataclass(frozen=True)
class NeighbourParams:
    """How a `Neighbours` index searches: `flat` (exact) or `ivf` with `lists` clusters of
    which `probe` are read per query. Saved with the derived state's manifest."""

    kind: str = "flat"
    lists: int = 0
    probe: int = 0

    @classmethod
    def for_size(cls, n: int) -> NeighbourParams:
        if n <= FLAT_LIMIT:
            return cls("flat")
        lists = int(4 * np.sqrt(n))
        # About 3 % of the lists: measured recall of the exact top 200 above 0.97 (docs/
        # performance.md); the cost grows with the share of vectors read.
        return cls("ivf", lists, max(16, lists // 32))


class Neighbours:
    """The nearest rows of a fixed matrix of unit vectors by inner product: exact below
    FLAT_LIMIT rows, approximate (FAISS IVF) above; results are row positions."""

    def __init__(self, vectors: npt.NDArray[np.float32], params: NeighbourParams) -> None:
        self.params = params
        self.vectors = vectors
        self._ivf: Any = None

    @classmethod
    def build(
        cls,
        vectors: npt.NDArray[np.float32],
        seed: int = 0,
        params: NeighbourParams | None = None,
    ) -> Neighbours:
        """An index over the rows of `vectors`, with the parameters for their number unless
        `params` are given."""
        params = params or NeighbourParams.for_size(len(vectors))
        out = cls(vectors, params)
        if params.kind == "ivf":
            faiss = _faiss()
            data = np.ascontiguousarray(vectors, dtype=np.float32)
            quantizer = faiss.IndexFlatIP(data.shape[1])
            metric = faiss.METRIC_INNER_PRODUCT
            ivf = faiss.IndexIVFFlat(quantizer, data.shape[1], params.lists, metric)
            ivf.cp.seed = seed
            ivf.train(data)
            ivf.add(data)
            ivf.nprobe = params.probe
            out._ivf = ivf
        return out

    def to_bytes(self) -> bytes:
        """The IVF index serialised (empty for an exact one, which needs only the vectors)."""
        return b"" if self._ivf is None else bytes(_faiss().serialize_index(self._ivf).tobytes())

    @classmethod
    def from_bytes(
        cls, vectors: npt.NDArray[np.float32], params: NeighbourParams, blob: bytes
    ) -> Neighbours:
        out = cls(vectors, params)
        if params.kind == "ivf":
            out._ivf = _faiss().deserialize_index(np.frombuffer(blob, dtype=np.uint8))
            out._ivf.nprobe = params.probe
        return out

    def search(self, queries: npt.NDArray[np.float32], k: int) -> npt.NDArray[np.int64]:
        """The rows among the k nearest of any query row, without repeats (unordered)."""
        n = len(self.vectors)
        if not n or not len(queries):
            return np.zeros(0, dtype=np.int64)
        k = min(k, n)
        if self._ivf is None:
            scores = self.vectors @ np.atleast_2d(queries).T
            best = scores.max(axis=1) if scores.shape[1] > 1 else scores[:, 0]
            if k >= n:
                return np.arange(n, dtype=np.int64)
            return np.argpartition(-best, k - 1)[:k].astype(np.int64)
        _, ids = self._ivf.search(np.ascontiguousarray(np.atleast_2d(queries), np.float32), k)
        found = ids.ravel()
        return np.unique(found[found >= 0]).astype(np.int64)
