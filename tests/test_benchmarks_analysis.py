"""Constraint checks, comparability warnings, the suggested score and the charts, on hand-made
runs whose numbers are chosen so every outcome can be worked out by hand."""

from __future__ import annotations

import re
from xml.etree import ElementTree as ET

import pytest

from app.models import BenchmarkRun, Candidate, Constraint
from app.services import benchmarks, charts
from app.services.benchmarks import CandidateRow, Comparison, check_run, cross_warnings

SVG = "{http://www.w3.org/2000/svg}"


def make_run(id_, name="Django", *, tool="locust", rps=None, p50=None, p90=None, p95=None,
             p99=None, error_rate=None, requests=1000, failures=0, duration=60.0,
             concurrency=50, memory=None, timeseries=()):
    run = BenchmarkRun(id=id_, label=f"run {id_}", tool=tool, format=tool, memory_mb=memory,
                       timeseries=list(timeseries), summary={
                           "requests": requests, "failures": failures, "error_rate": error_rate,
                           "rps": rps, "duration_s": duration, "concurrency": concurrency,
                           "latency_ms": {"p50": p50, "p90": p90, "p95": p95, "p99": p99}})
    run.candidate = Candidate(id=id_, name=name)
    return run


def target(kind, value, knockout=False, id_=1):
    return Constraint(id=id_, kind=kind, target=value, knockout=knockout, priority="must")


TARGETS = [target("traffic_rps", 800, id_=1), target("latency_p95_ms", 150, True, id_=2),
           target("error_rate_pct", 0.5, id_=3), target("memory_mb", 512, id_=4)]


def by_kind(checks):
    return {c.kind: c for c in checks}


def test_checks_pass_and_fail_with_the_numbers():
    run = make_run(1, rps=850, p95=120, error_rate=0.004, memory=600)
    checks = by_kind(check_run(run, TARGETS))
    assert checks["traffic_rps"].status == "pass"
    assert checks["traffic_rps"].message == "requests/s 850 req/s ≥ target 800 req/s"
    assert checks["latency_p95_ms"].status == "pass"
    assert checks["latency_p95_ms"].message == "p95 120 ms ≤ target 150 ms"
    # the run's error rate is a fraction (0.004 = 0.4 %); the constraint is in percent
    assert (checks["error_rate_pct"].status, checks["error_rate_pct"].actual) == ("pass",
                                                                                 pytest.approx(0.4))
    assert checks["error_rate_pct"].message == "error rate 0.4 % ≤ target 0.5 %"
    assert checks["memory_mb"].status == "fail"
    assert checks["memory_mb"].message == "memory 600 MB > target 512 MB"
    assert not any(c.failed_knockout for c in checks.values())


def test_failing_every_target():
    run = make_run(1, rps=799.9, p95=150.1, error_rate=0.006)
    checks = by_kind(check_run(run, TARGETS))
    assert [checks[k].status for k in ("traffic_rps", "latency_p95_ms", "error_rate_pct")] == \
        ["fail"] * 3
    assert checks["traffic_rps"].message == "requests/s 799.9 req/s < target 800 req/s"
    assert checks["error_rate_pct"].message == "error rate 0.6 % > target 0.5 %"
    assert checks["latency_p95_ms"].failed_knockout
    assert checks["memory_mb"].status == "unknown"
    assert "No memory figure was entered" in checks["memory_mb"].message


def test_boundaries_are_inclusive():
    run = make_run(1, rps=800, p95=150, error_rate=0.005, memory=512)
    assert {c.status for c in check_run(run, TARGETS)} == {"pass"}


def test_p95_from_formats_without_one_is_bounded_never_invented():
    """wrk reports p50/p90/p99: p99 ≤ target proves p95 passes; p90 > target proves it fails."""
    latency = [target("latency_p95_ms", 150, True)]
    (ok,) = check_run(make_run(1, tool="wrk", p90=80, p99=140), latency)
    assert (ok.status, ok.actual) == ("pass", None) and "p99 = 140 ms" in ok.message
    (bad,) = check_run(make_run(1, tool="wrk", p90=160, p99=400), latency)
    assert (bad.status, bad.actual) == ("fail", None) and bad.failed_knockout
    (unknown,) = check_run(make_run(1, tool="wrk", p90=100, p99=200), latency)
    assert unknown.status == "unknown" and not unknown.failed_knockout


def test_figures_a_format_lacks_are_unknown():
    (check,) = check_run(make_run(1, rps=None), [target("traffic_rps", 100)])
    assert check.status == "unknown" and "reports no requests/s" in check.message


@pytest.mark.parametrize("a, b, codes", [
    (dict(tool="locust"), dict(tool="k6"), {"different_tools"}),
    (dict(tool="wrk"), dict(tool="wrk2"), set()),  # wrk2 is wrk at a constant rate
    (dict(concurrency=50), dict(concurrency=56), {"concurrency_differs"}),  # 12 %
    (dict(concurrency=50), dict(concurrency=55), set()),  # exactly 10 %
    (dict(duration=60), dict(duration=121), {"duration_differs"}),
    (dict(duration=60), dict(duration=120), set()),  # exactly 2×
    (dict(concurrency=None), dict(concurrency=500), set()),  # unknown: nothing to compare
])
def test_cross_warnings(a, b, codes):
    runs = [make_run(1, "Django", **a), make_run(2, "Flask", **b)]
    assert {w.code for w in cross_warnings(runs)} == codes


def test_cross_warning_names_the_runs_and_numbers():
    (warning,) = cross_warnings([make_run(1, "Django", concurrency=50),
                                 make_run(2, "Flask", concurrency=100)])
    assert warning.message == ("Concurrency differs by more than 10 %: Django “run 1” ran 50 "
                               "users/connections, Flask “run 2” 100.")
    assert warning.run_ids == (1, 2)


@pytest.mark.parametrize("kw, codes", [
    (dict(duration=29.9), {"short_run"}),
    (dict(duration=30), set()),
    (dict(requests=0, failures=0), {"no_success"}),
    (dict(requests=10, failures=10), {"no_success"}),
    (dict(requests=10, failures=9), set()),
])
def test_run_warnings(kw, codes):
    assert {w.code for w in benchmarks.run_warnings(make_run(1, **kw))} == codes


def rows(*runs):
    out = []
    for run in runs:
        out.append(CandidateRow(run.candidate, [run], run, check_run(run, TARGETS)))
    return out


def test_suggested_score_on_hand_computed_numbers():
    """A: t = 1, l = 1, q = 1 → 1 + 4 = 5. B: t = 0.5, l = 50/100 = 0.5, q = 0.9 →
    1 + 4 × 0.5 × 0.9 = 2.8 → 3. C lacks p95: t = 0.25 only, q = 1 → 2."""
    a = make_run(1, "A", rps=1000, p95=50, error_rate=0)
    b = make_run(2, "B", rps=500, p95=100, error_rate=0.1)
    c = make_run(3, "C", rps=250, p95=None, error_rate=0)
    table = rows(a, b, c)
    benchmarks._suggest(table)
    assert [r.score.value for r in table] == [5, 3, 2]
    assert table[1].score.raw == pytest.approx(2.8)
    assert table[1].score.explanation == "t = 0.50, l = 0.50, q = 0.900 → 2.80"


def test_failed_knockout_scores_one():
    slow = make_run(1, "Slow", rps=2000, p95=400, error_rate=0)  # best rps, fails p95 ≤ 150
    fast = make_run(2, "Fast", rps=1000, p95=100, error_rate=0)
    table = rows(slow, fast)
    benchmarks._suggest(table)
    assert table[0].score.value == 1 and "knock-out" in table[0].score.explanation
    assert table[1].score.value == 5 - 1  # t = .5, l = 1 → 1 + 4 × .75 = 4


def comparison(*runs):
    return Comparison(rows(*runs), TARGETS, [], [])


def test_charts_are_valid_svg_with_candidate_names_and_no_external_urls():
    series = [{"t_s": float(t), "rps": 100.0 + t, "p95_ms": 50.0 + t % 7} for t in range(120)]
    cmp = comparison(make_run(1, "Django", rps=850, p50=40, p95=120, p99=300, error_rate=0.004,
                              timeseries=series),
                     make_run(2, "<b>Flask & co</b>", rps=640, p50=30, p95=90, p99=None,
                              error_rate=0.0))
    made = charts.comparison_charts(cmp)
    assert [c.key for c in made] == ["rps", "latency", "errors", "rps_over_time", "p95_over_time"]
    for chart in made:
        svg = str(chart.svg)
        root = ET.fromstring(svg)  # well-formed XML
        assert root.tag == f"{SVG}svg" and root.get("id") == f"chart-{chart.key}"
        assert "<script" not in svg and "<!--" not in svg
        assert re.findall(r"https?://[^\"'\s)<]+", svg) == ["http://www.w3.org/2000/svg"]
        assert not re.search(r"(?:href|src)=", svg)
        texts = " ".join(t.text or "" for t in root.iter() if t.text)
        if chart.key in ("rps", "latency", "errors"):
            assert "Django" in texts and "<b>Flask & co</b>" in texts  # parsed back as text
            assert "&lt;b&gt;Flask &amp; co&lt;/b&gt;" in svg and "<b>" not in svg
    assert "850" in made[0].svg and "Django: 850 requests/s" in made[0].summary


def test_charts_carry_no_style_element_and_the_shared_sheet_styles_them(client):
    """The Content-Security-Policy refuses <style> elements in the page: a chart's look comes
    from /charts.css, pygal's own rules scoped to its svg element."""
    series = [{"t_s": float(t), "rps": 100.0 + t, "p95_ms": 50.0} for t in range(30)]
    made = charts.comparison_charts(comparison(make_run(1, "Django", rps=850, p95=120,
                                                        timeseries=series),
                                               make_run(2, "Flask", rps=640, p95=90)))
    assert made and all("<style" not in str(c.svg) and 'class="pygal-chart"' in str(c.svg)
                        for c in made)
    response = client.get("/charts.css")
    assert response.status_code == 200 and response.mimetype == "text/css"
    css = response.get_data(as_text=True)
    assert "#chart" not in css and "<" not in css
    assert "svg.pygal-chart .graph > .background{fill:transparent}" in css
    assert "svg.pygal-chart .color-0,svg.pygal-chart .color-0 a:visited{stroke:#1f6feb;fill:#1f6feb}" in css
    assert f".color-{charts.STYLESHEET_SERIES - 1}," in css


def test_charts_render_the_same_markup_twice_and_skip_runs_without_series():
    cmp = comparison(make_run(1, "A", rps=10, p95=5), make_run(2, "B", rps=20, p95=6))
    first, second = charts.comparison_charts(cmp), charts.comparison_charts(cmp)
    assert [c.svg for c in first] == [c.svg for c in second]
    assert [c.key for c in first] == ["rps", "latency", "errors"]  # no time series
    assert charts.comparison_charts(Comparison([], [], [], [])) == []


def test_long_series_are_thinned():
    points = list(range(10_000))
    thin = charts.downsample(points)
    assert len(thin) <= charts.MAX_POINTS and thin[0] == 0
