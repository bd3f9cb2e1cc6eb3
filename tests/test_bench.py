"""Benchmarks run (smoke): every figure they report is there; no number is asserted beyond its sign."""

from __future__ import annotations

from colorstudio.bench import bench_histogram_slider


def test_bench_histogram_slider_reports_medians() -> None:
    result = bench_histogram_slider(repeats=2, cells=32)
    for key in ("transfer_warm_ms", "transfer_cold_ms", "hue_bias_ms", "slider_ms"):
        assert result[key] > 0
    assert result["warm_iterations"] <= result["cold_iterations"]
