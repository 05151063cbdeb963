"""Aggregation of raw per-request samples into the normalized run, in bounded memory.

Used by every raw-sample format (k6 NDJSON/CSV, JMeter JTL, Gatling logs, hey CSV). Memory
does not grow with the number of samples:

* latencies go into log-bucketed histograms (:mod:`app.parsers.histogram`), one for the run
  and one per endpoint; endpoints beyond :data:`MAX_ENDPOINTS` are folded into one row;
* the time series starts with 1-second buckets; when more than :data:`MAX_TIME_BUCKETS` are
  in use, the bucket width doubles and neighbours merge, so a long run gives wider points;
* distinct status codes and error messages are capped, the rest folded into "(other ...)".
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from itertools import groupby, repeat
from math import ceil, log
from operator import floordiv, itemgetter, truediv

from app.parsers.histogram import ZERO_THRESHOLD, LogHistogram, method_description
from app.parsers.model import Endpoint, Latency, ParsedRun, Point, Summary, error_rate

MAX_ENDPOINTS = 500
MAX_TIME_BUCKETS = 2048
MAX_DISTINCT = 200
MAX_MESSAGE_CHARS = 300
OTHER_ENDPOINTS = "(other endpoints)"
RELATIVE_ERROR = 0.01
SERIES_RELATIVE_ERROR = 0.05

EndpointKey = tuple[str | None, str]


@dataclass
class _Tally:
    """Counts and latencies for one endpoint or one time bucket."""

    relative_error: float
    requests: int = 0
    failures: int = 0
    users: int | None = None
    latency: LogHistogram = field(init=False)

    def __post_init__(self) -> None:
        self.latency = LogHistogram(self.relative_error)

    def merge(self, other: _Tally) -> None:
        self.requests += other.requests
        self.failures += other.failures
        self.latency.merge(other.latency)
        if other.users is not None:
            self.users = other.users if self.users is None else max(self.users, other.users)


def latency_of(histogram: LogHistogram) -> Latency:
    """Latency figures from a histogram (all None when it is empty)."""
    return Latency(
        avg=histogram.mean,
        min=histogram.min,
        p50=histogram.percentile(0.50),
        p90=histogram.percentile(0.90),
        p95=histogram.percentile(0.95),
        p99=histogram.percentile(0.99),
        max=histogram.max,
    )


class RunAccumulator:
    """Collects samples one at a time; :meth:`fill` writes the figures into a ParsedRun.

    Times are epoch seconds (floats), latencies milliseconds. Callers validate values
    first (the histogram raises ValueError for negative or NaN values).
    """

    def __init__(self) -> None:
        self.overall = _Tally(RELATIVE_ERROR)
        self.first_s: float | None = None
        self.last_s: float | None = None
        self.max_users: int | None = None
        self._endpoints: dict[EndpointKey, _Tally] = {}
        self._folded_endpoints = False
        self._width = 1
        self._buckets: dict[int, _Tally] = {}
        self._key_range: tuple[int, int] | None = None
        self.status_codes: dict[str, int] = {}
        self.errors: dict[str, int] = {}

    # -- recording ---------------------------------------------------------------------
    def span(self, *times_s: float) -> None:
        """Extend the run's time window to include ``times_s``."""
        for t in times_s:
            self.first_s = t if self.first_s is None or t < self.first_s else self.first_s
            self.last_s = t if self.last_s is None or t > self.last_s else self.last_s

    def request(
        self, t_s: float, key: EndpointKey, weight: int = 1, status: str | None = None
    ) -> None:
        """Count ``weight`` requests at time ``t_s`` for endpoint ``key``."""
        self.overall.requests += weight
        self._endpoint(key).requests += weight
        self._bucket(t_s).requests += weight
        if status is not None:
            _bump(self.status_codes, status, weight, "(other status codes)")

    def failure(
        self, t_s: float, key: EndpointKey, weight: int = 1, message: str | None = None
    ) -> None:
        """Count ``weight`` failed requests (already counted by :meth:`request`)."""
        self.overall.failures += weight
        self._endpoint(key).failures += weight
        self._bucket(t_s).failures += weight
        if message:
            _bump(self.errors, message, weight, "(other errors)")

    def latency(self, t_s: float, key: EndpointKey, ms: float, weight: int = 1) -> None:
        """Record one response time in milliseconds."""
        self.overall.latency.add(ms, weight)
        self._endpoint(key).latency.add(ms, weight)
        self._bucket(t_s).latency.add(ms, weight)

    def users(self, t_s: float, count: int) -> None:
        """Record a user/VU/thread count seen at ``t_s`` (the bucket keeps the maximum)."""
        bucket = self._bucket(t_s)
        bucket.users = count if bucket.users is None else max(bucket.users, count)
        self.max_users = count if self.max_users is None else max(self.max_users, count)

    # -- many samples at once (raw-sample formats' hot path) ------------------------------
    def can_batch(self, times_s: list[float], keys: list[EndpointKey]) -> tuple | None:
        """Whether :meth:`add_batch` may record these samples: when no new endpoint would be
        folded and no new time bucket would widen the series (both depend on the order of
        arrival, so the caller then records one sample at a time). Returns what add_batch
        needs (the samples' time-bucket keys), or None. Changes nothing."""
        new_keys = [k for k in dict.fromkeys(keys) if k not in self._endpoints]
        if new_keys and len(self._endpoints) + len(new_keys) > MAX_ENDPOINTS:
            return None
        width = self._width
        buckets = list(map(floordiv, map(math.floor, times_s), repeat(width)))
        new_buckets = [b for b in dict.fromkeys(buckets) if b not in self._buckets]
        if new_buckets:
            low, high = min(new_buckets), max(new_buckets)
            if self._key_range is not None:
                low, high = min(low, self._key_range[0]), max(high, self._key_range[1])
            if len(self._buckets) + len(new_buckets) > MAX_TIME_BUCKETS or high - low >= MAX_TIME_BUCKETS:
                return None
        return (buckets, new_keys, new_buckets)

    def add_batch(self, plan: tuple, times_s: list[float], ends_s: list[float],
                  keys: list[EndpointKey], latencies_ms: list[float],
                  statuses: list[str | None], users: list[int] | None) -> None:
        """Record samples of weight 1 that :meth:`can_batch` accepted (``plan`` is its
        answer): the same state as, for each sample in order, ``span(t, end)``,
        ``request(t, key, status=status)``, ``latency(t, key, ms)`` and ``users(t, n)``.
        Latencies must be finite and >= 0. Failures are recorded afterwards with
        :meth:`failure` (they touch other counters only)."""
        buckets = plan[0]
        self._open_plan(plan, min(times_s), max(ends_s))
        overall = self.overall
        overall.requests += len(times_s)
        overall.latency.add_counts(*_counts(overall.latency, latencies_ms), latencies_ms)
        for key, rows in _groups(keys).items():
            tally = self._endpoints[key]
            values = _pick(rows, latencies_ms)
            tally.requests += len(rows)
            tally.latency.add_counts(*_counts(tally.latency, values), values)
        for b, rows in _groups(buckets).items():
            tally = self._buckets[b]
            values = _pick(rows, latencies_ms)
            tally.requests += len(rows)
            tally.latency.add_counts(*_counts(tally.latency, values), values)
            if users is not None:
                count = max(_pick(rows, users))
                tally.users = count if tally.users is None else max(tally.users, count)
        if users is not None:
            count = max(users)
            self.max_users = count if self.max_users is None else max(self.max_users, count)
        for status, n in Counter(filter(None, statuses)).items():
            _bump(self.status_codes, status, n, "(other status codes)")

    def _open_plan(self, plan: tuple, first_s: float, last_s: float) -> None:
        """What add_batch and add_grouped share: create the plan's new endpoints and time
        buckets, in its order, and widen the span to [first_s, last_s]."""
        _, new_keys, new_buckets = plan
        for key in new_keys:
            self._endpoints[key] = _Tally(RELATIVE_ERROR)
        for b in new_buckets:
            low = b if self._key_range is None else min(b, self._key_range[0])
            high = b if self._key_range is None else max(b, self._key_range[1])
            self._key_range = (low, high)
            self._buckets[b] = _Tally(SERIES_RELATIVE_ERROR)
        if self.first_s is None or first_s < self.first_s:
            self.first_s = first_s
        if self.last_s is None or last_s > self.last_s:
            self.last_s = last_s

    def add_grouped(self, plan: tuple, first_s: float, last_s: float, overall: tuple,
                    endpoints: dict[EndpointKey, tuple], buckets: dict[int, tuple],
                    statuses: dict[str, int], max_users: int | None) -> None:
        """:meth:`add_batch` for a caller that has already grouped its samples (a vectorised
        reader): the same state, without a Python-level step per sample for the grouping.

        ``plan`` comes from :meth:`can_batch` (only its new keys and buckets are used: they
        are created in that order, as add_batch does); ``first_s``/``last_s`` are the
        earliest start and latest end; ``overall`` and each endpoint's value are
        ``(bucket counts, zero count, latencies in sample order)`` as :meth:`LogHistogram.add_counts`
        takes them; each time bucket's value is the same plus the largest user count or
        None; ``statuses`` counts non-empty status codes in order of first appearance."""
        self._open_plan(plan, first_s, last_s)
        counts, zero, values = overall
        self.overall.requests += len(values)
        self.overall.latency.add_counts(counts, zero, values)
        for key, (counts, zero, values) in endpoints.items():
            tally = self._endpoints[key]
            tally.requests += len(values)
            tally.latency.add_counts(counts, zero, values)
        for b, (counts, zero, values, users) in buckets.items():
            tally = self._buckets[b]
            tally.requests += len(values)
            tally.latency.add_counts(counts, zero, values)
            if users is not None:
                tally.users = users if tally.users is None else max(tally.users, users)
        if max_users is not None:
            self.max_users = max_users if self.max_users is None else max(self.max_users, max_users)
        for status, n in statuses.items():
            _bump(self.status_codes, status, n, "(other status codes)")

    def _endpoint(self, key: EndpointKey) -> _Tally:
        tally = self._endpoints.get(key)
        if tally is None:
            if len(self._endpoints) >= MAX_ENDPOINTS:
                self._folded_endpoints = True
                key = (None, OTHER_ENDPOINTS)
                tally = self._endpoints.get(key)
            if tally is None:
                tally = self._endpoints[key] = _Tally(RELATIVE_ERROR)
        return tally

    def _bucket(self, t_s: float) -> _Tally:
        key = math.floor(t_s) // self._width
        tally = self._buckets.get(key)
        if tally is None:
            low = key if self._key_range is None else min(key, self._key_range[0])
            high = key if self._key_range is None else max(key, self._key_range[1])
            if len(self._buckets) >= MAX_TIME_BUCKETS or high - low >= MAX_TIME_BUCKETS:
                self._widen()
                return self._bucket(t_s)
            self._key_range = (low, high)
            tally = self._buckets[key] = _Tally(SERIES_RELATIVE_ERROR)
        return tally

    def _widen(self) -> None:
        """Double the bucket width, merging neighbours (keeps memory and points bounded)."""
        self._width *= 2
        merged: dict[int, _Tally] = {}
        for key, tally in self._buckets.items():
            target = merged.setdefault(key // 2, _Tally(SERIES_RELATIVE_ERROR))
            target.merge(tally)
        self._buckets = merged
        self._key_range = (min(merged), max(merged)) if merged else None

    # -- results -------------------------------------------------------------------------
    @property
    def duration_s(self) -> float | None:
        """Seconds between the first and the last recorded time, or None."""
        if self.first_s is None or self.last_s is None:
            return None
        return round(self.last_s - self.first_s, 6)

    def fill(self, run: ParsedRun, *, count_latency_only: bool = False) -> None:
        """Write summary, endpoints, time series, codes and errors into ``run``.

        ``count_latency_only``: the format has no separate request counter, so the number
        of latencies recorded is the number of requests.
        """
        overall = self.overall
        requests = overall.latency.count if count_latency_only else overall.requests
        duration = self.duration_s
        run.summary = Summary(
            requests=requests,
            failures=overall.failures,
            error_rate=error_rate(requests, overall.failures),
            rps=requests / duration if duration else None,
            duration_s=duration,
            concurrency=self.max_users,
            latency_ms=latency_of(overall.latency),
        )
        run.endpoints = [
            self._endpoint_row(key, tally, duration) for key, tally in self._endpoints.items()
        ]
        run.endpoints.sort(key=lambda e: (e.name == OTHER_ENDPOINTS, e.name, e.method or ""))
        run.timeseries = self._series()
        run.status_codes = dict(sorted(self.status_codes.items()))
        run.errors = dict(sorted(self.errors.items(), key=lambda kv: -kv[1]))
        run.recomputed = True
        run.percentile_method = method_description(RELATIVE_ERROR)
        self._notes(run)

    @staticmethod
    def _endpoint_row(key: EndpointKey, tally: _Tally, duration: float | None) -> Endpoint:
        return Endpoint(
            method=key[0],
            name=key[1],
            requests=tally.requests,
            failures=tally.failures,
            rps=tally.requests / duration if duration else None,
            latency_ms=latency_of(tally.latency),
        )

    def _series(self) -> list[Point]:
        if not self._buckets:
            return []
        width = self._width
        first = min(self._buckets)
        points = []
        for key in range(first, max(self._buckets) + 1):
            tally = self._buckets.get(key)
            if tally is None:
                points.append(Point(t_s=float((key - first) * width), rps=0.0))
                continue
            points.append(
                Point(
                    t_s=float((key - first) * width),
                    rps=tally.requests / width,
                    p95_ms=tally.latency.percentile(0.95),
                    error_rate=error_rate(tally.requests, tally.failures),
                    users=tally.users,
                )
            )
        return points

    def _notes(self, run: ParsedRun) -> None:
        if self._width > 1:
            run.notes.append(f"Time series points are {self._width}-second buckets (long run).")
        if self._buckets:
            run.notes.append(
                "Time-series p95 comes from a per-bucket histogram with <= 5 % relative error."
            )
        if self._folded_endpoints:
            run.notes.append(
                f"More than {MAX_ENDPOINTS} distinct endpoints: the rest are summed in "
                f"“{OTHER_ENDPOINTS}”."
            )


def _groups(keys: list) -> dict:
    """Row indexes by key, keys in order of first appearance, indexes ascending (a stable
    sort by key, then runs of equal keys: no Python-level step per row)."""
    order = sorted(range(len(keys)), key=keys.__getitem__)
    runs = {key: list(rows) for key, rows in groupby(order, key=keys.__getitem__)}
    return {key: runs[key] for key in dict.fromkeys(keys)}


def _pick(rows: list[int], values: list) -> list:
    """``[values[i] for i in rows]``, without a Python-level loop."""
    return [values[rows[0]]] if len(rows) == 1 else list(itemgetter(*rows)(values))


def _counts(histogram: LogHistogram, values: list[float]) -> tuple[dict[int, int], int]:
    """(bucket index -> how many, how many are zero) of ``values`` in ``histogram``."""
    if min(values) >= ZERO_THRESHOLD:
        return Counter(map(ceil, map(truediv, map(log, values), repeat(histogram.log_gamma)))), 0
    positive = [v for v in values if v >= ZERO_THRESHOLD]
    counts = Counter(map(histogram.index_of, positive))
    return counts, len(values) - len(positive)


def _bump(counter: dict[str, int], key: str, weight: int, other: str) -> None:
    """Add to a bounded counter of labels; labels beyond MAX_DISTINCT go to ``other``."""
    key = key if len(key) <= MAX_MESSAGE_CHARS else key[: MAX_MESSAGE_CHARS - 1] + "…"
    if key not in counter and len(counter) >= MAX_DISTINCT:
        key = other
    counter[key] = counter.get(key, 0) + weight
