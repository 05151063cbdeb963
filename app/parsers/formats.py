"""Stable format ids and the labels people see (what the upload form lists as accepted)."""

from __future__ import annotations

FORMATS: dict[str, str] = {
    "locust-csv": (
        "Locust CSV (--csv: _stats.csv, optional _stats_history.csv, _failures.csv, "
        "_exceptions.csv)"
    ),
    "locust-json": "Locust JSON (--json / --json-file)",
    "locust-html": "Locust HTML report (--html, Locust 2.22 or later)",
    "k6-summary-export": "k6 --summary-export JSON",
    "k6-handle-summary": "k6 handleSummary() data JSON",
    "k6-summary-v1": "k6 new machine-readable summary JSON (version 1.0.0)",
    "k6-ndjson": "k6 --out json (NDJSON samples)",
    "k6-csv": "k6 --out csv (samples)",
    "jmeter-csv": "JMeter JTL results (CSV with header)",
    "jmeter-xml": "JMeter JTL results (XML)",
    "jmeter-dashboard": "JMeter HTML dashboard statistics.json",
    "gatling-log": "Gatling simulation.log (text, Gatling 2.x–3.12)",
    "gatling-binary-log": "Gatling simulation.log (binary, Gatling 3.13+)",
    "gatling-json": "Gatling report data (js/global_stats.json or js/stats.json)",
    "wrk": "wrk text output (with --latency)",
    "wrk2": "wrk2 text output (with --latency)",
    "ab": "ApacheBench (ab) text output",
    "hey": "hey text summary",
    "hey-csv": "hey CSV samples (-o csv)",
    "vegeta-json": "vegeta report -type=json",
    "vegeta-text": "vegeta report (text)",
    "oha-json": "oha JSON output (-j / --output-format json)",
    "bombardier-json": "bombardier JSON output (-o json)",
}


def accepted_list() -> str:
    """One sentence listing every accepted format, for error messages."""
    return "Accepted formats: " + "; ".join(FORMATS.values()) + "."
