"""Bounded-memory percentiles over raw samples (a log-bucketed histogram, DDSketch style).

Raw-sample formats (JMeter JTL, k6 NDJSON/CSV, Gatling logs) can hold hundreds of millions of
latencies, so they cannot all be kept to sort. Instead each value lands in a bucket
``i = ceil(log(v) / log(gamma))`` with ``gamma = (1 + a) / (1 - a)``; the bucket is reported by
the value ``2 * gamma**i / (gamma + 1)``, which is within a relative error ``a`` of every value
in it. Memory is bounded by the number of buckets (about 1,000 for 1 µs .. 1 hour at a = 1 %),
whatever the number of samples. Count, sum, min and max are kept exactly.

Percentiles use the nearest-rank rule: the smallest bucket whose cumulative count reaches
``ceil(q * n)``; the answer is clamped to the exact [min, max].
"""

from __future__ import annotations

import math
from functools import reduce as _reduce
from math import ceil as _ceil
from math import inf as _INF
from math import log as _log
from operator import add as _add

#: Values below this (in the caller's unit, milliseconds here: 1 ns) count as zero.
ZERO_THRESHOLD = 1e-6

METHOD_TEMPLATE = (
    "recomputed from raw samples: log-bucketed histogram (relative error <= {pct:g} %), "
    "nearest-rank percentiles; avg/min/max exact"
)


def method_description(relative_error: float = 0.01) -> str:
    """Human-readable description of how percentiles were computed (for ParsedRun)."""
    return METHOD_TEMPLATE.format(pct=relative_error * 100)


class LogHistogram:
    """Counts non-negative values in logarithmic buckets; see the module docstring.

    Raises ValueError when given a negative, NaN or infinite value: callers validate input
    first and turn bad figures into a ParseError that names the file and line.
    """

    __slots__ = ("_buckets", "_gamma", "_log_gamma", "zero_count", "count", "total", "min", "max")

    def __init__(self, relative_error: float = 0.01) -> None:
        if not 0 < relative_error < 1:
            raise ValueError("relative_error must be between 0 and 1")
        self._gamma = (1 + relative_error) / (1 - relative_error)
        self._log_gamma = math.log(self._gamma)
        self._buckets: dict[int, int] = {}
        self.zero_count = 0
        self.count = 0
        self.total = 0.0
        self.min: float | None = None
        self.max: float | None = None

    def add(self, value: float, weight: int = 1) -> None:
        """Record ``value`` ``weight`` times."""
        if not 0 <= value < _INF or weight < 1:  # also False for NaN
            raise ValueError(f"histogram values must be finite and >= 0, got {value!r}")
        if value < ZERO_THRESHOLD:
            self.zero_count += weight
        else:
            index = _ceil(_log(value) / self._log_gamma)
            buckets = self._buckets
            buckets[index] = buckets.get(index, 0) + weight
        self.count += weight
        self.total += value * weight
        if self.min is None or value < self.min:
            self.min = value
        if self.max is None or value > self.max:
            self.max = value

    def add_counts(self, counts: dict[int, int], zero: int, values: list[float]) -> None:
        """Record ``values`` at once, given their bucket ``counts`` (index -> how many) and
        how many are ``zero`` (below ZERO_THRESHOLD): the same state as adding each value
        once, in order (the exact sum is accumulated in the same order). ``values`` must be
        finite and >= 0 (callers check)."""
        buckets = self._buckets
        for index, n in counts.items():
            buckets[index] = buckets.get(index, 0) + n
        self.zero_count += zero
        self.count += len(values)
        self.total = _reduce(_add, values, self.total)
        low, high = min(values), max(values)
        if self.min is None or low < self.min:
            self.min = low
        if self.max is None or high > self.max:
            self.max = high

    def index_of(self, value: float) -> int:
        """The bucket a value >= ZERO_THRESHOLD falls in."""
        return _ceil(_log(value) / self._log_gamma)

    @property
    def log_gamma(self) -> float:
        return self._log_gamma

    def merge(self, other: LogHistogram) -> None:
        """Add every value counted by ``other`` (same relative error) to this histogram."""
        if other._gamma != self._gamma:
            raise ValueError("cannot merge histograms with different relative errors")
        for index, weight in other._buckets.items():
            self._buckets[index] = self._buckets.get(index, 0) + weight
        self.zero_count += other.zero_count
        self.count += other.count
        self.total += other.total
        for bound in (other.min, other.max):
            if bound is not None:
                self.min = bound if self.min is None or bound < self.min else self.min
                self.max = bound if self.max is None or bound > self.max else self.max

    @property
    def mean(self) -> float | None:
        """Exact arithmetic mean, or None when empty."""
        return self.total / self.count if self.count else None

    def percentile(self, q: float) -> float | None:
        """Nearest-rank percentile for ``q`` in [0, 1]; None when the histogram is empty."""
        if not self.count or self.min is None or self.max is None:
            return None
        rank = max(1, math.ceil(q * self.count))
        if rank == 1 or rank >= self.count:  # the extremes are known exactly
            return self.min if rank == 1 else self.max
        seen = self.zero_count
        if seen >= rank:
            return self._clamp(0.0)
        for index in sorted(self._buckets):
            seen += self._buckets[index]
            if seen >= rank:
                return self._clamp(2 * self._gamma**index / (self._gamma + 1))
        return self.max

    def _clamp(self, value: float) -> float:
        assert self.min is not None and self.max is not None
        return min(max(value, self.min), self.max)

    def __len__(self) -> int:
        """Number of occupied buckets (the memory actually used)."""
        return len(self._buckets) + (1 if self.zero_count else 0)
