"""The one atomic writer: a process killed in the middle of a write leaves the old file whole."""

import os
import signal
import subprocess
import sys
import time

import pytest

from matcher.atomic import write_atomically
from tests.conftest import ROOT

WRITER = """
import sys
from pathlib import Path
from matcher.atomic import write_atomically
write_atomically(Path(sys.argv[1]), b"n" * (int(sys.argv[2]) * 2**20))
"""


def _temp_files(folder, name):
    return [p for p in folder.iterdir() if p.name.startswith(f".{name}.") and p.suffix == ".tmp"]


@pytest.mark.parametrize("name", ["index.faiss", "calibration.json"])
def test_a_write_killed_midway_leaves_the_old_file_whole(tmp_path, name):
    target = tmp_path / name
    old = b"old content\n" * 1000
    write_atomically(target, old)
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(target), "400"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        deadline = time.monotonic() + 60
        while not any(p.stat().st_size > 0 for p in _temp_files(tmp_path, name)):
            assert writer.poll() is None, "the writer ended before it could be killed"
            assert time.monotonic() < deadline, "the writer never started writing"
            time.sleep(0.001)
        writer.send_signal(
            signal.SIGKILL
        )  # mid-write: the temp file exists, the rename has not run
    finally:
        writer.wait()
    assert writer.returncode == -signal.SIGKILL
    assert _temp_files(tmp_path, name), "killed after the rename: not mid-write"
    assert target.read_bytes() == old
    write_atomically(target, b"new")  # a later write is not hindered by the leftover
    assert target.read_bytes() == b"new"


def test_a_failed_write_leaves_no_temp_file(tmp_path):
    target = tmp_path / "manifest.json"
    write_atomically(target, b"{}")

    with pytest.raises(TypeError):
        write_atomically(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"{}"
    assert not _temp_files(tmp_path, "manifest.json")


def test_temp_files_left_by_killed_writers_are_removed_by_the_next_write(tmp_path):
    target = tmp_path / "index.faiss"
    old = tmp_path / ".index.faiss.abandoned.tmp"
    old.write_bytes(b"half a file")
    hour_ago = time.time() - 7200
    os.utime(old, (hour_ago, hour_ago))
    busy = tmp_path / ".index.faiss.inflight.tmp"  # another writer at work right now
    busy.write_bytes(b"being written")
    other = tmp_path / ".manifest.json.abandoned.tmp"  # another target's: not this write's
    other.write_bytes(b"x")
    os.utime(other, (hour_ago, hour_ago))
    write_atomically(target, b"new")
    assert target.read_bytes() == b"new"
    assert not old.exists() and busy.exists() and other.exists()
