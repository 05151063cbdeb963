"""Formats of tools that cannot run here, on files hand-written from FORMATS.md.

Each expected figure was worked out by hand from the rows in tests/parsers/fixtures/.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.parsers import InputFile, ParseError, detect_format

EXPECTED_FORMAT = {
    "handwritten_k6_out.csv": "k6-csv",
    "handwritten_k6_out_rfc3339_old.csv": "k6-csv",
    "handwritten_k6_summary_v1.json": "k6-summary-v1",
    "handwritten_jmeter_results.xml": "jmeter-xml",
    "handwritten_jmeter_transactions.jtl": "jmeter-csv",
    "handwritten_jmeter_statistics.json": "jmeter-dashboard",
    "handwritten_gatling_stats.json": "gatling-json",
    "handwritten_gatling_3.3_simulation.log": "gatling-log",
    "handwritten_gatling_2.3_simulation.log": "gatling-log",
    "handwritten_vegeta_report.json": "vegeta-json",
    "handwritten_vegeta_report.txt": "vegeta-text",
    "handwritten_oha.json": "oha-json",
    "handwritten_oha_lambda_envelope.json": "oha-json",
    "handwritten_bombardier.txt": "bombardier-json",
    "handwritten_wrk_errors.txt": "wrk",
    "handwritten_ab_failures.txt": "ab",
    "handwritten_hey_errors.txt": "hey",
    "handwritten_locust_legacy_report.html": "locust-html",
    "handwritten_locust_report.html": "locust-html",
    "handwritten_gatling_binary_simulation.log": "gatling-binary-log",
    "handwritten_locust.json": "locust-json",
    "handwritten_locust_stats.csv": "locust-csv",
    "handwritten_locust_failures.csv": "locust-csv",
    "handwritten_k6_out.ndjson": "k6-ndjson",
    "handwritten_k6_summary_export.json": "k6-summary-export",
    "handwritten_hey.csv": "hey-csv",
    "handwritten_wrk2_uncorrected.txt": "wrk2",
}


@pytest.mark.parametrize("name", sorted(EXPECTED_FORMAT))
def test_fixture_is_detected(fixtures, name):
    with (fixtures / name).open("rb") as stream:
        assert detect_format([InputFile("x", stream)]) == EXPECTED_FORMAT[name]


def test_all_fixtures_are_listed(fixtures):
    assert {p.name for p in fixtures.glob("handwritten_*")} == set(EXPECTED_FORMAT)


def test_k6_csv(fixtures, parse):
    run = parse(fixtures / "handwritten_k6_out.csv")
    s = run.summary
    assert (s.requests, s.failures, s.error_rate) == (5, 1, 0.2)
    assert (s.duration_s, s.rps, s.concurrency) == (2.0, 2.5, 3)
    lat = s.latency_ms
    assert (lat.avg, lat.min, lat.max, lat.p95) == (40, 10, 100, 100)
    assert lat.p50 == pytest.approx(30, rel=0.01)
    assert run.status_codes == {"200": 4, "503": 1}
    assert run.errors == {"request timeout": 1}
    login = next(e for e in run.endpoints if e.name == "login")
    assert (login.method, login.requests, login.failures) == ("POST", 2, 1)
    assert [p.rps for p in run.timeseries] == [1, 2, 2]
    assert run.timeseries[2].error_rate == 0.5
    assert run.started_at == datetime.fromtimestamp(1700000000, tz=UTC)


def test_k6_csv_old_layout_without_http_req_failed(fixtures, parse):
    run = parse(fixtures / "handwritten_k6_out_rfc3339_old.csv")
    s = run.summary
    assert (s.requests, s.failures, s.duration_s) == (2, 1, 1.5)  # status 404 counts as failed
    assert run.started_at == datetime(2023, 5, 1, 8, 0, 0, 250000, tzinfo=UTC)
    assert run.endpoints[0].failures is None  # unknown per endpoint: not invented
    assert any("k6 < v0.31" in n for n in run.notes)


def test_k6_new_machine_readable_summary(fixtures, parse):
    run = parse(fixtures / "handwritten_k6_summary_v1.json")
    s = run.summary
    assert (s.requests, s.failures, s.error_rate, s.rps, s.duration_s) == (600, 6, 0.01, 20.0, 30.0)
    assert (s.latency_ms.p95, s.latency_ms.p99, s.concurrency) == (30.0, None, 10)
    assert run.tool_version == "1.5.0"


def test_jmeter_xml_nested_sub_results(fixtures, parse):
    run = parse(fixtures / "handwritten_jmeter_results.xml")
    s = run.summary
    assert (s.requests, s.failures, s.concurrency) == (4, 2, 2)
    assert (s.latency_ms.avg, s.latency_ms.min, s.latency_ms.max) == (150, 50, 300)
    assert s.duration_s == pytest.approx(2.6)  # 963.000 → 965.600
    assert run.errors == {
        "Test failed: text expected to contain /Welcome/": 1,
        "500 Internal Server Error": 1,
    }
    assert {e.name for e in run.endpoints} == {"Home", "Login", "JDBC query"}
    assert any("2 sub-result" in n for n in run.notes)


def test_jmeter_csv_transaction_controller_not_double_counted(fixtures, parse):
    run = parse(fixtures / "handwritten_jmeter_transactions.jtl")
    s = run.summary
    assert (s.requests, s.failures) == (4, 1)
    assert s.duration_s == pytest.approx(1.22)
    assert {e.name for e in run.endpoints} == {"Open home", "Open list"}
    assert run.errors == {"503 Service Unavailable": 1}
    assert any("2 Transaction Controller" in n for n in run.notes)


def test_jmeter_dashboard_statistics(fixtures, parse):
    run = parse(fixtures / "handwritten_jmeter_statistics.json")
    s = run.summary
    assert (s.requests, s.failures, s.error_rate, s.rps) == (400, 8, 0.02, 20.0)  # errorPct is %
    assert (s.latency_ms.p50, s.latency_ms.p90, s.latency_ms.p95, s.latency_ms.p99) == (
        50,
        110,
        150,
        400,
    )
    assert sorted(e.name for e in run.endpoints) == ["Open home", "Open list"]


def test_gatling_stats_json_tree(fixtures, parse):
    run = parse(fixtures / "handwritten_gatling_stats.json")
    assert (run.summary.requests, run.summary.failures, run.summary.rps) == (30, 3, 3.0)
    pay = next(e for e in run.endpoints if e.name == "pay")
    assert (pay.requests, pay.failures, pay.latency_ms.p95, pay.rps) == (
        10,
        3,
        250,
        1.0,
    )  # string values
    home = next(e for e in run.endpoints if e.name == "home")
    assert home.latency_ms.p99 == 880 and home.latency_ms.p90 is None


def test_gatling_3_3_log_layout(fixtures, parse):
    run = parse(fixtures / "handwritten_gatling_3.3_simulation.log")
    s = run.summary
    assert (s.requests, s.failures, run.tool_version, s.concurrency) == (2, 1, "3.3.1", 1)
    assert (s.latency_ms.min, s.latency_ms.max) == (100, 450)
    assert {e.name for e in run.endpoints} == {"home", "checkout / pay"}


def test_gatling_2_3_log_layout(fixtures, parse):
    run = parse(fixtures / "handwritten_gatling_2.3_simulation.log")
    s = run.summary
    assert (s.requests, s.failures, run.tool_version, s.concurrency) == (3, 1, "2.0", 2)
    assert (s.latency_ms.min, s.latency_ms.max, s.duration_s) == (50, 700, 1.0)
    assert run.errors == {"j.n.ConnectException: Connection refused": 1}


def test_vegeta_json(fixtures, parse):
    run = parse(fixtures / "handwritten_vegeta_report.json")
    s = run.summary
    assert (s.requests, s.rps) == (10994, 366.45646)
    assert s.error_rate == pytest.approx(0.0098)
    assert s.failures == round(10994 * 0.0098)
    assert s.duration_s == pytest.approx(30.00083525)
    lat = s.latency_ms
    assert (lat.p50, lat.p90, lat.p95, lat.p99) == (223.315257, 262.145632, 271.603494, 2137.159641)
    assert (lat.min, lat.avg, lat.max) == (17.831002, 273.785299, 5772.97942)
    assert run.status_codes == {"0": 58, "200": 10886, "500": 50}
    assert run.errors == {}  # vegeta gives no counts: listed in the notes instead
    assert any("connection refused" in n for n in run.notes)


def test_vegeta_text(fixtures, parse):
    run = parse(fixtures / "handwritten_vegeta_report.txt")
    s = run.summary
    assert (s.requests, s.failures, s.rps, s.duration_s) == (300, 3, 100.33, 2.99)
    assert s.error_rate == pytest.approx(0.01)
    lat = s.latency_ms
    assert (lat.min, lat.p50, lat.p95, lat.max) == (0.1469, 0.2416, 0.3838, 1.067)
    assert run.status_codes == {"200": 297, "500": 3}


@pytest.mark.parametrize("name", ["handwritten_oha.json", "handwritten_oha_lambda_envelope.json"])
def test_oha(fixtures, parse, name):
    run = parse(fixtures / name)
    s = run.summary
    assert (s.requests, s.failures) == (3175, 25)  # deadline aborts are not requests
    assert (s.rps, s.duration_s) == (319.43, 10.0022)
    lat = s.latency_ms
    assert (lat.p50, lat.p90, lat.p95, lat.p99) == (50.1, 120.4, 150.2, 300.3)
    assert (lat.min, lat.avg, lat.max) == (2.4, 62.9, 512.3)


def test_bombardier_after_intro_lines(fixtures, parse):
    run = parse(fixtures / "handwritten_bombardier.txt")
    s = run.summary
    assert (s.requests, s.failures, s.error_rate) == (1_000_000, 200_000, 0.2)
    assert (s.rps, s.duration_s, s.concurrency) == (100_000, 10.0, 125)
    assert (s.latency_ms.p50, s.latency_ms.p99, s.latency_ms.max) == (0.305, 1997.471, 440.0)
    assert s.latency_ms.min is None
    assert run.errors == {"timeout": 50000}


def test_wrk_with_socket_errors(fixtures, parse):
    run = parse(fixtures / "handwritten_wrk_errors.txt")
    s = run.summary
    assert (s.requests, s.failures, s.concurrency) == (2274, 2 + 30 + 4 + 1465, 10)
    assert s.error_rate == pytest.approx(1501 / (2274 + 2))


def test_ab_failure_breakdown(fixtures, parse):
    run = parse(fixtures / "handwritten_ab_failures.txt")
    s = run.summary
    assert (s.requests, s.failures) == (300, 12 - 8 + 50)  # Length failures are not errors
    assert (s.rps, s.duration_s, s.concurrency) == (723.73, 0.415, 10)
    lat = s.latency_ms
    assert (lat.min, lat.avg, lat.p50, lat.p90, lat.p95, lat.p99, lat.max) == (
        2,
        8,
        8,
        11,
        12,
        14,
        15,
    )


def test_hey_with_errors(fixtures, parse):
    run = parse(fixtures / "handwritten_hey_errors.txt")
    s = run.summary
    assert (s.requests, s.failures) == (270 + 10 + 20, 10 + 20)
    assert (s.rps, s.duration_s) == (257.6833, 1.1642)
    assert (s.latency_ms.p99, s.latency_ms.max, s.latency_ms.min) == (1006.2, 1007.0, 1.1)


def test_locust_legacy_html_report_is_refused_with_advice(fixtures, parse):
    with pytest.raises(ParseError, match="older than 2.22") as info:
        parse(fixtures / "handwritten_locust_legacy_report.html")
    assert "--csv" in info.value.message


def test_locust_html_report_with_history(fixtures, parse):
    run = parse(fixtures / "handwritten_locust_report.html")
    s = run.summary
    assert (s.requests, s.failures, s.rps, s.duration_s) == (100, 4, 25.0, 4.0)
    lat = s.latency_ms
    assert (lat.p50, lat.p90, lat.p95, lat.p99, lat.avg, lat.max) == (11, 24, 45, 190, 14.25, 200)
    login = next(e for e in run.endpoints if e.name == "/login")
    assert (login.method, login.requests, login.failures, login.latency_ms.p90) == (
        "POST",
        10,
        4,
        60,
    )
    assert run.errors == {
        "POST /login: HTTPError('401 Client Error: Unauthorized for url: /login')": 4
    }
    assert [(p.t_s, p.rps, p.p95_ms, p.users) for p in run.timeseries] == [
        (0, 20, 30, 5),
        (2, 25, 45, 10),
    ]
    assert run.timeseries[1].error_rate == pytest.approx(1 / 25)
    assert s.concurrency == 10
    assert run.started_at == datetime(2025, 1, 10, 9, 0, tzinfo=UTC)


def test_gatling_binary_log_written_from_the_spec(fixtures, parse):
    # written byte by byte from FORMATS.md §4.2: 2 users, 3 requests (one KO, in a group,
    # with a non-Latin-1 name stored as UTF-16), one GROUP and one ERROR record
    run = parse(fixtures / "handwritten_gatling_binary_simulation.log")
    s = run.summary
    assert (run.format, run.tool_version) == ("gatling-binary-log", "3.13.1")
    assert (s.requests, s.failures, s.concurrency) == (3, 1, 2)
    assert (s.latency_ms.min, s.latency_ms.max, s.duration_s) == (50, 300, 0.49)
    assert {e.name for e in run.endpoints} == {"Home", "Panier / Créer"}
    assert run.errors == {"status.find.is(201), but actually found 500": 1}
    assert any("1 ERROR record" in note for note in run.notes)
    assert run.started_at == datetime.fromtimestamp(1_700_000_000, tz=UTC)


def test_locust_json_uses_locusts_percentile_rule(fixtures, parse):
    run = parse(fixtures / "handwritten_locust.json")
    s = run.summary
    assert (s.requests, s.failures, s.duration_s, s.rps) == (25, 2, 10.0, 2.5)
    # merged histogram {10: 5, 20: 10, 30: 2, 50: 1, 90: 1, 100: 4, 300: 1} over 25 requests:
    # Locust's p95 is the value with at most int(25 * 0.95) = 23 requests at or below it
    assert (s.latency_ms.p50, s.latency_ms.p90, s.latency_ms.p95, s.latency_ms.p99) == (
        20,
        100,
        100,
        300,
    )
    assert s.latency_ms.avg == pytest.approx(1200 / 24)  # none-requests have no time
    assert (s.latency_ms.min, s.latency_ms.max) == (10.2, 300.4)
    assert [(p.t_s, p.rps, p.error_rate) for p in run.timeseries] == [(0, 10, 0), (1, 15, 2 / 15)]
    assert run.started_at == datetime.fromtimestamp(1732126296, tz=UTC)


def test_locust_csv_newer_failures_layout(fixtures, parse):
    run = parse(
        fixtures / "handwritten_locust_stats.csv", fixtures / "handwritten_locust_failures.csv"
    )
    assert (run.summary.requests, run.summary.failures, run.summary.rps) == (25, 2, 2.5)
    assert run.errors == {
        "POST /login: HTTPError('401 Client Error: Unauthorized for url: /login')": 2
    }
    assert run.timeseries == [] and run.summary.concurrency is None


def test_k6_ndjson_handwritten(fixtures, parse):
    run = parse(fixtures / "handwritten_k6_out.ndjson")
    s = run.summary
    assert (s.requests, s.failures, s.concurrency, s.duration_s) == (2, 1, 4, 2.1)
    assert (s.latency_ms.min, s.latency_ms.max) == (0, 25.5)
    assert run.status_codes == {"0": 1, "200": 1}
    assert run.errors == {"dial: i/o timeout": 1}
    assert [p.rps for p in run.timeseries] == [1, 1]  # the +01:00 offset is the same instant


def test_k6_summary_export_with_extra_trend_stats(fixtures, parse):
    run = parse(fixtures / "handwritten_k6_summary_export.json")
    s = run.summary
    assert (s.requests, s.failures, s.error_rate, s.rps, s.concurrency) == (
        1000,
        20,
        0.02,
        99.5,
        25,
    )
    assert (s.latency_ms.p99, s.latency_ms.p95) == (120.0, 50.0)
    assert "Threshold http_req_duration p(95)<40: FAILED." in run.notes  # true = failed
    assert "Checks: 48 passed, 2 failed." in run.notes


def test_hey_csv(fixtures, parse):
    run = parse(fixtures / "handwritten_hey.csv")
    s = run.summary
    assert (s.requests, s.failures, s.duration_s) == (4, 1, 2.0)
    assert (s.latency_ms.min, s.latency_ms.max, s.latency_ms.avg) == (10, 40, pytest.approx(25))
    assert run.status_codes == {"200": 3, "500": 1}
    assert [p.rps for p in run.timeseries] == [2, 2]


def test_wrk2_takes_the_corrected_block(fixtures, parse):
    run = parse(fixtures / "handwritten_wrk2_uncorrected.txt")
    lat = run.summary.latency_ms
    assert (lat.p50, lat.p90, lat.p95, lat.p99, lat.min) == (1.9, 3.2, 4.1, 5.8, 0.25)
    assert (run.summary.requests, run.summary.rps, run.summary.concurrency) == (60000, 2000.0, 100)
