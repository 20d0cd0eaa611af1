"""A linear adapter on frozen sentence vectors: one d x d matrix, learned from (query, relevant
candidate) pairs, that makes cosine similarity read this domain better.

Applying it is numpy only: `transform(vectors)` is `vectors @ W`, rows scaled back to unit length,
and it is applied to both sides alike, so a similarity stays symmetric. Training (`fit`) imports
torch lazily. Saved beside the ranker as `adapter.npy` plus a `manifest.json` that names the
model, the training data and a checksum of the matrix.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..atomic import write_atomically
from ..clock import now, stamp
from ..errors import StaleIndex
from .embedding import Matrix, normalise

log = logging.getLogger(__name__)

ADAPTER_FORMAT = 1
WEIGHTS = "adapter.npy"
MANIFEST = "manifest.json"
Pairs = npt.NDArray[np.int64]
"""(n, 2) rows of (query row, candidate row)."""


def adapter_path(models_dir: Path) -> Path:
    """Where the service's adapter is saved: beside the ranker, in MODELS/adapter."""
    return Path(models_dir) / "adapter"


class LinearAdapter:
    """A d x d matrix W, initialised at the identity, learned contrastively.

    Each query is a softmax over every candidate row at temperature `temperature` (InfoNCE):
    each of its relevant candidates competes with the query's negatives, every candidate that
    is neither relevant to it nor `ignore`d; queries weigh alike, whatever their number of
    relevant candidates. A pull `reg * ||W - I||^2` toward the identity keeps W near it where
    the data say little. Trained by Adam for `epochs` passes over the queries, `batch_size`
    queries a step.

        adapter = LinearAdapter(random_state=0).fit(queries, candidates, pairs)
        similarity = adapter.transform(queries) @ adapter.transform(candidates).T
    """

    W_: Matrix
    n_features_in_: int
    manifest_: dict[str, Any]
    """What a loaded adapter's manifest says (model, tasks, train_hash, created_at ...)."""

    def __init__(
        self,
        *,
        temperature: float = 0.05,
        reg: float = 0.01,
        epochs: int = 10,
        batch_size: int = 256,
        lr: float = 3e-3,
        random_state: int | None = 0,
    ) -> None:
        self.temperature = temperature
        self.reg = reg
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.random_state = random_state

    # scikit-learn's parameter protocol, written out so that serving never imports scikit-learn
    _PARAMS = ("temperature", "reg", "epochs", "batch_size", "lr", "random_state")

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._PARAMS}

    def set_params(self, **params: Any) -> LinearAdapter:
        for name, value in params.items():
            if name not in self._PARAMS:
                raise ValueError(f"LinearAdapter has no parameter {name!r}")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"LinearAdapter({args})"

    @property
    def fitted(self) -> bool:
        return hasattr(self, "W_")

    def fit(
        self,
        query_vectors: Matrix,
        candidate_vectors: Matrix,
        pairs: Pairs,
        ignore: Pairs | None = None,
    ) -> LinearAdapter:
        """Learn W from `pairs` (query row, relevant candidate row). `ignore` lists (query row,
        candidate row) pairs left out of that query's softmax: neither relevant nor a negative
        (a leave-one-out record that is the query itself, a candidate of another task)."""
        queries = np.ascontiguousarray(query_vectors, dtype=np.float32)
        candidates = np.ascontiguousarray(candidate_vectors, dtype=np.float32)
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        if queries.ndim != 2 or candidates.ndim != 2 or queries.shape[1] != candidates.shape[1]:
            raise ValueError("query and candidate vectors must be 2-d with the same width")
        if not len(pairs):
            raise ValueError("no (query, candidate) pairs to learn from")
        if pairs[:, 0].max() >= len(queries) or pairs[:, 1].max() >= len(candidates):
            raise ValueError("a pair names a row that the vectors do not have")
        d = queries.shape[1]
        ignore = np.zeros((0, 2), np.int64) if ignore is None else np.asarray(ignore, np.int64)
        self.W_ = _train(self, queries, candidates, pairs, ignore.reshape(-1, 2))
        self.n_features_in_ = d
        return self

    def transform(self, vectors: Matrix) -> Matrix:
        """Unit-length float32 rows of `vectors @ W` (the vectors themselves when not fitted:
        an untrained adapter changes nothing)."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if not self.fitted:
            return normalise(vectors)
        if vectors.ndim != 2 or vectors.shape[1] != self.W_.shape[0]:
            raise ValueError(f"expected (n, {self.W_.shape[0]}) vectors, got {vectors.shape}")
        return normalise(vectors @ self.W_)

    def pullback(self, vectors: Matrix) -> Matrix:
        """Query vectors in the frozen space whose inner product with a frozen document vector
        is the adapted one before the document's normalisation (`(v W) Wᵀ`): a frozen-space
        neighbour index then finds the documents nearest in the adapted space, nearly."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if not self.fitted:
            return normalise(vectors)
        return normalise(((vectors @ self.W_) @ self.W_.T).astype(np.float32))

    def save(self, directory: Path, manifest: Mapping[str, Any]) -> None:
        """Write adapter.npy and manifest.json into `directory`, each atomically (the matrix
        first: the manifest's checksum then names the matrix beside it). `manifest` should name
        at least the model; tasks and train_hash say what it was trained on."""
        if not self.fitted:
            raise ValueError("fit the adapter before saving it")
        buffer = io.BytesIO()
        np.save(buffer, self.W_, allow_pickle=False)
        data = buffer.getvalue()
        full = {
            "format": ADAPTER_FORMAT,
            **manifest,
            "dim": int(self.W_.shape[0]),
            "created_at": stamp(now()),
            "hyperparameters": self.get_params(),
            "checksum": hashlib.sha256(data).hexdigest(),
        }
        directory = Path(directory)
        write_atomically(directory / WEIGHTS, data)
        write_atomically(directory / MANIFEST, (json.dumps(full, indent=2) + "\n").encode())


def load_adapter(directory: Path, model: str) -> LinearAdapter | None:
    """The adapter saved in `directory`; None when there is none or it was trained for another
    model. Raises StaleIndex when its files are unreadable or do not match each other."""
    directory = Path(directory)
    manifest_file = directory / MANIFEST
    if not manifest_file.exists():
        return None
    fix = f"Retrain it with `python -m bench.train`, or delete {directory} to run without it."
    try:
        manifest = json.loads(manifest_file.read_text())
        if not isinstance(manifest, dict):
            raise ValueError("the manifest is not a JSON object")
    except (OSError, ValueError) as error:
        raise StaleIndex(
            f"The adapter manifest {manifest_file} is unreadable ({error}). {fix}"
        ) from error
    if manifest.get("format") != ADAPTER_FORMAT:
        raise StaleIndex(f"The adapter in {directory} has another format. {fix}")
    if manifest.get("model") != model:
        return None
    try:
        data = (directory / WEIGHTS).read_bytes()
    except OSError as error:
        raise StaleIndex(
            f"The adapter {directory / WEIGHTS} is unreadable ({error}). {fix}"
        ) from error
    if hashlib.sha256(data).hexdigest() != manifest.get("checksum"):
        raise StaleIndex(f"The adapter {directory / WEIGHTS} does not match its manifest. {fix}")
    try:
        matrix = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as error:
        raise StaleIndex(
            f"The adapter {directory / WEIGHTS} is unreadable ({error}). {fix}"
        ) from error
    dim = manifest.get("dim")
    if not isinstance(dim, int) or matrix.shape != (dim, dim) or matrix.dtype != np.float32:
        raise StaleIndex(f"The adapter {directory / WEIGHTS} is not a {dim} x {dim} matrix. {fix}")
    params = manifest.get("hyperparameters") or {}
    adapter = LinearAdapter(**{k: v for k, v in params.items() if k in LinearAdapter._PARAMS})
    adapter.W_ = matrix
    adapter.n_features_in_ = dim
    adapter.manifest_ = manifest
    return adapter


def _by_query(rows: Pairs, n_queries: int) -> dict[int, npt.NDArray[np.int64]]:
    """By query row, its candidate rows in `rows`."""
    rows = rows[np.lexsort((rows[:, 1], rows[:, 0]))]
    starts = np.searchsorted(rows[:, 0], np.arange(n_queries + 1))
    return {
        q: rows[starts[q] : starts[q + 1], 1]
        for q in np.unique(rows[:, 0]).tolist()
        if starts[q + 1] > starts[q]
    }


def _train(
    adapter: LinearAdapter, queries: Matrix, candidates: Matrix, pairs: Pairs, ignore: Pairs
) -> Matrix:
    import torch

    rng = np.random.default_rng(adapter.random_state)
    torch.manual_seed(int(rng.integers(2**31)))
    relevant = _by_query(pairs, len(queries))
    ignored = _by_query(ignore, len(queries))
    trained = np.array(sorted(relevant), dtype=np.int64)
    d = queries.shape[1]
    eye = torch.eye(d)
    W = torch.nn.Parameter(eye.clone())
    optimiser = torch.optim.Adam([W], lr=adapter.lr)
    Q = torch.from_numpy(queries)
    C = torch.from_numpy(candidates)
    batch = max(1, int(adapter.batch_size))
    for epoch in range(int(adapter.epochs)):
        order = rng.permutation(trained)
        total = 0.0
        for start in range(0, len(order), batch):
            rows = order[start : start + batch]
            positive = np.zeros((len(rows), len(candidates)), dtype=bool)
            blocked = np.zeros_like(positive)
            for i, q in enumerate(rows.tolist()):
                positive[i, relevant[q]] = True
                if q in ignored:
                    blocked[i, ignored[q]] = True
            pos = torch.from_numpy(positive)
            q = torch.nn.functional.normalize(Q[rows] @ W, dim=1)
            c = torch.nn.functional.normalize(C @ W, dim=1)
            logits = (q @ c.T) / adapter.temperature
            # Each relevant candidate against the query's negatives only, not its other
            # relevant candidates: -log(e^s / (e^s + sum over negatives of e^n)).
            negatives = logits.masked_fill(pos | torch.from_numpy(blocked), float("-inf"))
            others = torch.logsumexp(negatives, dim=1, keepdim=True)
            per_pair = torch.logaddexp(logits, others) - logits
            per_query = (per_pair * pos).sum(dim=1) / pos.sum(dim=1)
            loss = per_query.mean() + adapter.reg * ((W - eye) ** 2).sum()
            optimiser.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
            total += loss.item() * len(rows)
        log.debug("adapter epoch %d: loss %.4f", epoch, total / len(trained))
    out: Matrix = W.detach().numpy().astype(np.float32)
    return out
