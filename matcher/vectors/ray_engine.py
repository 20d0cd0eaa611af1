"""Embedding on a Ray cluster: the texts a build is missing, embedded by Ray Data actors and
written through the encoder's cache, so the rest of the build (indexes, manifests) is unchanged.

`ray` is imported lazily, here only: it comes with the extra `[ray]`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..settings import check_device
from .embedding import DocumentEncoder, Progress, SentenceTransformerEmbedder

log = logging.getLogger(__name__)


def _ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError as error:
        raise ConfigError(
            "The Ray engine needs the extra [ray]: run `pip install cgt-matcher[ray]` "
            "(or `make install`), or build with `--engine local`."
        ) from error
    return ray


class _Embed:
    """A Ray Data actor: loads the model once, then embeds one batch of texts per call."""

    def __init__(self, model: str, device: str, batch_size: int) -> None:
        # Ray shows an actor only the GPU it was given, as cuda:0.
        local = "cuda" if device.startswith("cuda") else device
        self.embedder = SentenceTransformerEmbedder(model, device=local, batch_size=batch_size)

    def __call__(self, batch: dict[str, np.ndarray[Any, Any]]) -> dict[str, Any]:
        return {"hash": batch["hash"], "vector": self.embedder.embed(list(batch["text"]))}


class RayEngine:
    """Fills a DocumentEncoder's cache through Ray Data: its model (by name) in `workers`
    actors (one per CPU, or one per `gpus_per_worker` of a GPU on cuda), each loading the model
    once, fed `batch` texts at a time and streamed back. Connects to the cluster at `address`,
    or starts Ray on this machine (and stops it again in `close`)."""

    def __init__(
        self,
        *,
        device: str = "cpu",
        batch_size: int = 32,
        address: str | None = None,
        workers: int | None = None,
        gpus_per_worker: float = 1.0,
        batch: int = 256,
    ) -> None:
        self.device = check_device(device)
        self.batch_size = batch_size
        self.address = address
        self.workers = workers
        self.gpus_per_worker = gpus_per_worker
        self.batch = batch
        self._started = False

    def connect(self) -> Any:
        """Connect to the cluster at `address`, or start Ray on this machine; the `ray` module."""
        ray = _ray()
        if not ray.is_initialized():
            if self.address:
                ray.init(address=self.address)  # a client (ray://) takes no start-up options
            else:
                ray.init(include_dashboard=False, log_to_driver=False)
                self._started = True
        ray.data.DataContext.get_current().enable_progress_bars = False
        return ray

    def _pool(self, ray: Any) -> tuple[int, dict[str, float]]:
        """How many actors, and what each asks of the cluster."""
        resources = ray.cluster_resources()
        if self.device.startswith("cuda"):
            gpus = float(resources.get("GPU", 0))
            if gpus <= 0:
                raise ConfigError(
                    f"MATCHER_DEVICE={self.device!r} but the Ray cluster has no GPU: set "
                    "MATCHER_DEVICE=cpu, or connect to a cluster with GPUs (--address)."
                )
            workers = self.workers or max(1, int(gpus / self.gpus_per_worker))
            return workers, {"num_gpus": self.gpus_per_worker, "num_cpus": 1}
        return self.workers or max(1, int(resources.get("CPU", 1))), {"num_cpus": 1}

    def fill(
        self, encoder: DocumentEncoder, units: Sequence[str], progress: Progress | None = None
    ) -> int:
        """Embed the units the encoder's cache does not hold yet and cache them; how many."""
        if encoder.cache is None:
            raise ValueError("The Ray engine writes through the encoder's cache: give it one.")
        missing = encoder.missing(units)
        if not missing:
            return 0
        ray = self.connect()
        workers, ask = self._pool(ray)
        items = [{"hash": h, "text": t} for h, t in missing.items()]
        dataset = ray.data.from_items(items, override_num_blocks=max(1, len(items) // self.batch))
        vectors = dataset.map_batches(
            _Embed,
            fn_constructor_kwargs={
                "model": encoder.embedder.name, "device": self.device, "batch_size": self.batch_size
            },
            batch_size=self.batch,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=workers),
            **ask,
        )  # fmt: skip
        name = encoder.embedder.name
        done = 0
        for out in vectors.iter_batches(batch_size=None, batch_format="numpy"):
            fresh = {
                str(h): np.asarray(v, dtype=np.float32)
                for h, v in zip(out["hash"], out["vector"], strict=True)
            }
            encoder.cache.cache_vectors(name, fresh)
            done += len(fresh)
            if progress is not None:
                progress(len(fresh))
        log.info("embedded %d texts on Ray with %d %s workers", done, workers, self.device)
        return done

    def encode(
        self,
        encoder: DocumentEncoder,
        texts: Sequence[str],
        progress: Progress | None = None,
        sentences: bool = False,
    ) -> np.ndarray[Any, np.dtype[np.float32]]:
        """`encoder.encode(texts, sentences=...)`, with what is missing embedded on Ray first."""
        self.fill(encoder, encoder.units(texts, sentences), progress)
        return encoder.encode(texts, sentences=sentences)

    def close(self) -> None:
        """Stop Ray if this engine started it."""
        if self._started:
            _ray().shutdown()
            self._started = False
