"""The bounded-memory histogram: relative error within 1 % of exact nearest-rank values."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.parsers.histogram import LogHistogram

LATENCIES = st.lists(
    st.floats(min_value=0, max_value=3_600_000, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=300,
)


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


@settings(max_examples=100, deadline=None, database=None)
@given(values=LATENCIES, q=st.sampled_from([0.0, 0.5, 0.9, 0.95, 0.99, 1.0]))
def test_percentiles_within_one_percent(values, q):
    histogram = LogHistogram(0.01)
    for value in values:
        histogram.add(value)
    exact = nearest_rank(values, q)
    assert histogram.percentile(q) == pytest.approx(exact, rel=0.01, abs=1e-6)
    assert histogram.count == len(values)
    assert histogram.mean == pytest.approx(sum(values) / len(values))
    assert (histogram.min, histogram.max) == (min(values), max(values))


@settings(max_examples=50, deadline=None, database=None)
@given(left=LATENCIES, right=LATENCIES)
def test_merge_equals_adding_everything(left, right):
    a, b, both = LogHistogram(), LogHistogram(), LogHistogram()
    for value in left:
        a.add(value)
        both.add(value)
    for value in right:
        b.add(value)
        both.add(value)
    a.merge(b)
    assert [a.percentile(q) for q in (0.5, 0.95)] == [both.percentile(q) for q in (0.5, 0.95)]
    assert (a.count, a.min, a.max) == (both.count, both.min, both.max)


def test_memory_is_bounded_by_buckets_not_samples():
    histogram = LogHistogram(0.01)
    for i in range(200_000):
        histogram.add(0.001 + (i % 10_000) * 0.37)  # 1 µs .. 3.7 s
    assert histogram.count == 200_000
    assert len(histogram) < 1200


def test_weights_empty_and_invalid_values():
    histogram = LogHistogram()
    assert histogram.percentile(0.5) is None and histogram.mean is None
    histogram.add(10.0, weight=3)
    histogram.add(0.0)
    assert histogram.count == 4 and histogram.percentile(0.25) == 0.0
    for bad in (-1.0, math.nan, math.inf):
        with pytest.raises(ValueError):
            histogram.add(bad)
    with pytest.raises(ValueError):
        LogHistogram(0).add(1.0)
