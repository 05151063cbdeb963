"""Run the real tools (Locust from the venv; wrk, ab, hey from Debian) against a loopback
server started by the test, parse what they wrote, and cross-check the parsed totals with the
tool's own printout and with the requests the server actually counted.

Every run is a few seconds, bounded by a timeout, and only talks to 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

LOCUST = Path(sys.executable).with_name("locust")
REQUESTS_PER_USER = 10
USERS = 5

# Each user makes exactly 10 requests (every 5th one to /fail, answered 500) and then idles,
# so the totals are known in advance and stop changing well before the 3 s run ends.
LOCUSTFILE = f"""
import gevent
from locust import HttpUser, constant, task


class Fixed(HttpUser):
    wait_time = constant(0.05)

    def on_start(self):
        self.done = 0

    @task
    def step(self):
        if self.done >= {REQUESTS_PER_USER}:
            gevent.sleep(30)
            return
        self.done += 1
        self.client.get("/fail" if self.done % 5 == 0 else "/")
"""
EXPECTED_REQUESTS = USERS * REQUESTS_PER_USER
EXPECTED_FAILURES = USERS * REQUESTS_PER_USER // 5


def _env() -> dict[str, str]:
    """The environment without proxies, so every request stays on loopback."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


def _run(args: list[str], cwd: Path, timeout: int = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout
    )


def _locust(tmp_path: Path, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    if not LOCUST.exists():
        pytest.skip("needs locust in the virtualenv (pip install locust)")
    (tmp_path / "locustfile.py").write_text(LOCUSTFILE)
    args = [str(LOCUST), "-f", "locustfile.py", "--headless", "-u", str(USERS), "-r", str(USERS)]
    result = _run([*args, "-t", "3s", "-H", url, "--loglevel", "WARNING", *extra], tmp_path)
    assert result.returncode in (0, 1), result.stderr[-2000:]  # 1 = the run had failures
    return result


def _assert_locust_totals(run, http_server) -> None:
    assert (run.summary.requests, run.summary.failures) == (EXPECTED_REQUESTS, EXPECTED_FAILURES)
    assert run.summary.error_rate == pytest.approx(0.2)
    rows = {(e.method, e.name): (e.requests, e.failures) for e in run.endpoints}
    assert rows == {("GET", "/"): (40, 0), ("GET", "/fail"): (10, 10)}
    assert http_server.count("/") + http_server.count("/fail") == EXPECTED_REQUESTS


def test_locust_csv_full_history_json_file_and_html(tmp_path, http_server, parse):
    _locust(
        tmp_path,
        http_server.url,
        "--csv",
        "out",
        "--csv-full-history",
        "--json-file",
        "out",
        "--html",
        "report.html",
    )
    csv_files = [
        tmp_path / f"out_{part}.csv"
        for part in ("stats", "stats_history", "failures", "exceptions")
    ]
    csv_run = parse(*csv_files)
    json_run = parse(tmp_path / "out.json")
    html_run = parse(tmp_path / "report.html")
    assert (csv_run.format, json_run.format, html_run.format) == (
        "locust-csv",
        "locust-json",
        "locust-html",
    )
    for run in (csv_run, json_run, html_run):
        _assert_locust_totals(run, http_server)
    assert csv_run.summary.concurrency == USERS
    assert any("--csv-full-history" in note for note in csv_run.notes)
    assert csv_run.errors and sum(csv_run.errors.values()) == EXPECTED_FAILURES
    # the JSON output is recomputed with Locust's own percentile rule: it must agree with the report
    assert json_run.summary.latency_ms.p95 == html_run.summary.latency_ms.p95
    assert json_run.summary.latency_ms.p50 == html_run.summary.latency_ms.p50


def test_locust_csv_and_json_against_printout(tmp_path, http_server, parse):
    result = _locust(tmp_path, http_server.url, "--csv", "run", "--json")
    printed = re.findall(r"^\s*Aggregated\s+(\d+)\s+(\d+)\(", result.stderr, re.M)
    assert printed, result.stderr[-2000:]
    assert tuple(map(int, printed[-1])) == (EXPECTED_REQUESTS, EXPECTED_FAILURES)  # final table
    stdout_json = json.loads(result.stdout)
    (tmp_path / "stdout.json").write_text(result.stdout)
    json_run = parse(tmp_path / "stdout.json")
    assert json_run.summary.requests == sum(e["num_requests"] for e in stdout_json)
    csv_run = parse(tmp_path / "run_stats.csv", tmp_path / "run_stats_history.csv")
    for run in (csv_run, json_run):
        _assert_locust_totals(run, http_server)
    assert any("cumulative" in note for note in csv_run.notes)  # no --csv-full-history


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        package = {"ab": "apache2-utils"}.get(name, name)
        pytest.skip(f"needs {name} from Debian's packages (apt-get install {package})")
    return path


def _save(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_wrk_latency(tmp_path, http_server, parse):
    wrk = _tool("wrk")
    result = _run([wrk, "-t1", "-c2", "-d1s", "--latency", http_server.url + "/"], tmp_path)
    assert result.returncode == 0, result.stderr
    run = parse(_save(tmp_path, "wrk.txt", result.stdout))
    printed = int(re.search(r"(\d+) requests in", result.stdout)[1])
    assert run.format == "wrk" and run.summary.requests == printed > 0
    assert (
        0 <= http_server.count("/") - printed <= 2
    )  # at most one request in flight per connection
    assert run.summary.failures == 0 and run.summary.concurrency == 2
    lat = run.summary.latency_ms
    assert lat.p50 is not None and lat.p50 <= lat.p90 <= lat.p99 <= lat.max
    assert lat.p95 is None


def test_wrk_counts_non_2xx_as_failures(tmp_path, http_server, parse):
    wrk = _tool("wrk")
    result = _run([wrk, "-t1", "-c1", "-d1s", "--latency", http_server.url + "/fail"], tmp_path)
    run = parse(_save(tmp_path, "wrk_fail.txt", result.stdout))
    assert run.summary.requests > 0
    assert run.errors == {"non-2xx or 3xx responses": run.summary.requests}
    assert run.summary.error_rate == 1.0


def test_ab(tmp_path, http_server, parse):
    ab = _tool("ab")
    ok = _run([ab, "-n", "120", "-c", "4", http_server.url + "/"], tmp_path)
    failing = _run([ab, "-n", "30", "-c", "3", http_server.url + "/fail"], tmp_path)
    assert ok.returncode == 0 and failing.returncode == 0, ok.stderr + failing.stderr
    run = parse(_save(tmp_path, "ab.txt", ok.stdout))
    assert (run.format, run.tool_version) == ("ab", "2.3")
    assert (run.summary.requests, run.summary.failures, run.summary.concurrency) == (120, 0, 4)
    assert http_server.count("/") == 120
    printed_rps = float(re.search(r"Requests per second:\s+([\d.]+)", ok.stdout)[1])
    assert run.summary.rps == printed_rps
    bad = parse(_save(tmp_path, "ab_fail.txt", failing.stdout))
    assert (bad.summary.requests, bad.summary.failures) == (30, 30)  # Non-2xx responses: 30


def test_hey_text_and_csv(tmp_path, http_server, parse):
    hey = _tool("hey")
    text = _run([hey, "-n", "100", "-c", "4", http_server.url + "/"], tmp_path)
    failing = _run([hey, "-n", "20", "-c", "2", http_server.url + "/fail"], tmp_path)
    csv = _run([hey, "-n", "40", "-c", "2", "-o", "csv", http_server.url + "/"], tmp_path)
    assert text.returncode == failing.returncode == csv.returncode == 0
    run = parse(_save(tmp_path, "hey.txt", text.stdout))
    assert run.format == "hey" and run.status_codes == {"200": 100}
    assert (run.summary.requests, run.summary.failures) == (100, 0)
    printed_p95 = float(re.search(r"95% in ([\d.]+) secs", text.stdout)[1])
    assert run.summary.latency_ms.p95 == pytest.approx(printed_p95 * 1000)
    bad = parse(_save(tmp_path, "hey_fail.txt", failing.stdout))
    assert (bad.summary.requests, bad.summary.failures, bad.status_codes) == (20, 20, {"500": 20})
    rows = parse(_save(tmp_path, "hey.csv", csv.stdout))
    assert rows.format == "hey-csv" and rows.recomputed
    assert (rows.summary.requests, rows.summary.failures) == (40, 0)
    assert http_server.count("/") == 140
