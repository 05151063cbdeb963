"""Every parser on the real tool files in ../shared/samples.

Expected figures were read off the files by hand (e.g. the Aggregated row of the Locust CSV,
``metrics.http_reqs.count`` of the k6 export, or rows counted with grep for raw samples).
Raw-sample percentiles are checked against nearest-rank values with the histogram's 1 %.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.parsers import InputFile, ParseError, detect_format

DETECTED = {
    "locust_stats.csv": "locust-csv",
    "locust_failures.csv": "locust-csv",
    "locust_stats_history.csv": "locust-csv",
    "k6_summary_export.json": "k6-summary-export",
    "k6_out_json_first600lines.ndjson": "k6-ndjson",
    "k6_handlesummary_data.json": "k6-handle-summary",
    "jmeter_results.jtl": "jmeter-csv",
    "gatling_3.7.6_simulation.log": "gatling-log",
    "gatling_3.7.6_global_stats.json": "gatling-json",
    "gatling_3.13plus_binary_simulation.log": "gatling-binary-log",
    "wrk_latency_output.txt": "wrk",
    "wrk2_latency_output.txt": "wrk2",
}


@pytest.mark.parametrize("name", sorted(DETECTED))
def test_every_sample_is_detected_by_content(samples, name):
    with (samples / name).open("rb") as stream:
        # a misleading name proves the content decides
        assert detect_format([InputFile("upload.bin", stream)]) == DETECTED[name]


def test_every_sample_file_is_covered(samples):
    data_files = {
        p.name for p in samples.iterdir() if p.suffix not in {".md", ".txt"} or "wrk" in p.name
    }
    assert data_files <= set(DETECTED)


def test_locust_csv_stats_and_failures(samples, parse):
    run = parse(samples / "locust_stats.csv", samples / "locust_failures.csv")
    assert run.format == "locust-csv" and not run.recomputed
    s = run.summary
    assert (s.requests, s.failures) == (377918, 98)
    assert s.error_rate == pytest.approx(98 / 377918)
    assert s.rps == pytest.approx(262.54948833591897)
    lat = s.latency_ms
    assert (lat.p50, lat.p90, lat.p95, lat.p99) == (12, 65, 82, 130)
    assert lat.avg == pytest.approx(24.006963999227516)
    assert lat.min == pytest.approx(0.7459940002263465)
    assert lat.max == pytest.approx(1036.3564479998786)
    assert len(run.endpoints) == 8
    verify = next(e for e in run.endpoints if e.method == "GET" and e.name == "/api/auth/verify")
    assert (verify.requests, verify.failures, verify.latency_ms.p95) == (47250, 2, 54)
    assert sum(run.errors.values()) == 98  # failures.csv occurrences add up to the failure count
    timeout = next(k for k in run.errors if "ReadTimeout" in k)
    assert timeout.startswith("POST /api/exercise-production: ") and run.errors[timeout] == 58
    assert '"HTTPConnectionPool' in timeout  # doubled quotes in the CSV were unescaped


def test_locust_history_gives_time_series_and_start(samples, parse):
    run = parse(samples / "locust_stats_history.csv", samples / "locust_stats.csv")
    assert run.started_at == datetime.fromtimestamp(1739288111, tz=UTC)
    assert len(run.timeseries) == 16
    first, last = run.timeseries[0], run.timeseries[-1]
    assert first.t_s == 0 and first.p95_ms is None and first.users == 0  # N/A percentiles
    assert (
        last.t_s == 15 and last.rps == pytest.approx(0.6) and last.p95_ms == 31 and last.users == 1
    )
    assert last.error_rate == pytest.approx(1.0)  # Failures/s equals Requests/s in that run
    assert run.summary.concurrency == 1


def test_locust_history_without_stats_is_refused(samples, parse):
    with pytest.raises(ParseError, match="_stats.csv is needed"):
        parse(samples / "locust_stats_history.csv")


def test_k6_summary_export(samples, parse):
    run = parse(samples / "k6_summary_export.json")
    s = run.summary
    assert (s.requests, s.failures, s.error_rate) == (100, 1, 0.01)  # passes = FAILED requests
    assert s.rps == pytest.approx(23.738350582489275)
    assert s.duration_s == pytest.approx(100 / 23.738350582489275)
    assert s.latency_ms.p95 == pytest.approx(4101.811365)
    assert s.latency_ms.p90 == pytest.approx(4030.33387)
    assert s.latency_ms.p50 == pytest.approx(3390.69845)
    assert s.latency_ms.p99 is None  # not exported by default: never invented
    assert s.concurrency == 97
    assert "Checks: 99 passed, 1 failed." in run.notes


def test_k6_handle_summary(samples, parse):
    run = parse(samples / "k6_handlesummary_data.json")
    s = run.summary
    assert (s.requests, s.failures, s.error_rate) == (384236, 0, 0)
    assert s.rps == pytest.approx(38422.78159475203)
    assert s.duration_s == pytest.approx(10.000213)
    assert (s.latency_ms.p95, s.latency_ms.max, s.concurrency) == (0.187, 3.261, 9)
    assert "Threshold http_req_duration p(95)<500: passed." in run.notes


def test_k6_ndjson_recomputes_from_points(samples, parse):
    run = parse(samples / "k6_out_json_first600lines.ndjson")
    assert run.recomputed and run.format == "k6-ndjson"
    s = run.summary
    assert (s.requests, s.failures) == (42, 1)  # grep: 42 http_reqs points, one failed (line 51)
    assert s.duration_s == pytest.approx(41.7559903 - 38.952806)
    assert s.latency_ms.min == pytest.approx(464.4323)
    assert s.latency_ms.max == pytest.approx(3262.3504)
    assert s.latency_ms.p50 == pytest.approx(2927.9307, rel=0.01)  # nearest rank 21 of 42
    assert s.latency_ms.p95 == pytest.approx(3233.4223, rel=0.01)  # nearest rank 40 of 42
    assert s.concurrency == 97
    assert run.status_codes == {"200": 41, "500": 1}
    assert run.errors == {"HTTP 500 (error_code 1500)": 1}
    assert run.started_at == datetime(2024, 8, 5, 8, 24, 38, 952806, tzinfo=UTC)
    assert sum(p.rps for p in run.timeseries) == 42


def test_jmeter_csv_skips_sub_results(samples, parse):
    run = parse(samples / "jmeter_results.jtl")
    s = run.summary
    assert (s.requests, s.failures) == (100, 0)  # 300 rows, 200 are redirect sub-results
    assert s.rps == pytest.approx(8.89, abs=0.01)
    assert s.latency_ms.p50 == pytest.approx(69, rel=0.01)
    assert s.latency_ms.p95 == pytest.approx(246, rel=0.01)
    assert s.latency_ms.p99 == pytest.approx(512, rel=0.01)
    assert [e.name for e in run.endpoints] == ["HTTP Request"]
    assert any("200 sub-result" in n for n in run.notes)


def test_gatling_text_log(samples, parse):
    run = parse(samples / "gatling_3.7.6_simulation.log")
    s = run.summary
    assert (s.requests, s.failures, run.tool_version) == (44, 6, "3.7.6")
    assert (s.latency_ms.min, s.latency_ms.max) == (8, 1234)  # as in the report's global stats
    assert round(s.latency_ms.avg) == 237
    assert run.errors == {"status.find.in([200, 209], 304), found 401": 6}
    assert run.started_at == datetime.fromtimestamp(1648541259.346, tz=UTC)


def test_gatling_report_json(samples, parse):
    run = parse(samples / "gatling_3.7.6_global_stats.json")
    s = run.summary
    assert (s.requests, s.failures, s.rps) == (44, 6, pytest.approx(4.888888888888889))
    lat = s.latency_ms
    assert (lat.p50, lat.p95, lat.p99, lat.avg, lat.min, lat.max) == (236, 450, 1097, 237, 8, 1234)
    assert lat.p90 is None  # percentiles2 is the 75th: not reported as p90


def test_gatling_binary_log(samples, parse):
    run = parse(samples / "gatling_3.13plus_binary_simulation.log")
    s = run.summary
    assert (s.requests, s.failures, run.tool_version) == (105, 1, "3.12.1")
    assert run.errors == {"status.find.is(201), but actually found 200": 1}
    assert run.started_at == datetime.fromtimestamp(0x192F930176D / 1000, tz=UTC)
    assert 1 <= s.concurrency <= 12  # 24 USER records = 12 users started and ended


def test_wrk_interrupted_output(samples, parse):
    run = parse(samples / "wrk_latency_output.txt")
    s = run.summary
    assert (s.requests, s.rps, s.concurrency) == (4574949, 30161.22, 1)
    assert s.duration_s == pytest.approx(2.53 * 60)
    lat = s.latency_ms
    assert (lat.p50, lat.p90, lat.p99) == (pytest.approx(0.017), 577.81, 1730)  # "1.73s " quirk
    assert lat.p95 is None and lat.min is None  # wrk prints neither
    assert (lat.avg, lat.max) == (134.88, 1980)
    assert run.errors == {"socket errors: timeout": 7}


def test_wrk2_spectrum(samples, parse):
    run = parse(samples / "wrk2_latency_output.txt")
    s = run.summary
    assert (run.format, s.requests, s.rps) == ("wrk2", 19998, 1999.82)
    lat = s.latency_ms
    assert (lat.p50, lat.p90, lat.p99) == (1.14, 6.40, 51.33)
    assert lat.p95 == 23.343  # the spectrum row at percentile 0.950000
    assert (lat.min, lat.avg, lat.max) == (0.036, 3.67, 58.50)
    assert run.errors == {"non-2xx or 3xx responses": 2}
