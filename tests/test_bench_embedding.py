"""bench.embedding.compare: bare encode against the pipeline, on the same units, with the
pipeline's vectors checked against bare ones."""

from __future__ import annotations

from bench.embedding import compare, documents


def test_compare_times_both_on_the_same_units():
    result = compare(documents(4), sentences=True)
    assert result["texts"] == 4 and result["units"] == 4 * 6
    assert result["bare_s"] > 0 and result["pipeline_s"] > 0
    assert abs(result["overhead"] - (result["pipeline_s"] / result["bare_s"] - 1)) < 0.01
    assert result["max_abs_diff"] < 1e-5
    assert compare(documents(4), sentences=False)["units"] == 4
