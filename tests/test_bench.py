"""Benchmarks run (smoke): every figure they report is there; no number is asserted beyond its sign."""

from __future__ import annotations

from colorstudio.bench import bench_histogram_slider


def test_bench_histogram_slider_reports_medians() -> None:
    result = bench_histogram_slider(repeats=2, cells=32)
    for key in ("transfer_warm_ms", "transfer_cold_ms", "hue_bias_ms", "slider_ms"):
        assert result[key] > 0
    assert result["warm_iterations"] <= result["cold_iterations"]


def test_bench_hint_preview_reports_the_draft_and_the_first_sample() -> None:
    from colorstudio.bench import bench_hint_preview

    result = bench_hint_preview(repeats=1, size=64, samples=2, models=("pixcolor", "no-such-model"))
    row = result["pixcolor"]  # the installed model; a missing one is skipped, not an error
    assert row["draft_median_s"] > 0 and row["first_sample_median_s"] > 0 and "no-such-model" not in result
