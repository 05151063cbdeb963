"""Benchmark 4 — parsing large uploads: MB/s and peak RSS growth per format and size.

Files are generated into a temporary directory (never kept): k6 ``--out json`` NDJSON as k6
writes it (14 Point lines per request, Metric declarations, a vus gauge every second), a
default 17-column JMeter CSV JTL (some samples with redirect sub-results) and a Locust
``--csv-full-history`` set (a small _stats.csv plus a large _stats_history.csv). Each parse
runs in a fresh subprocess, so its peak RSS is its own; the growth is the peak during the
parse (VmHWM, reset after the imports) minus the RSS after the imports. The anchor:
``pandas.read_csv`` and quantiles on the same JTL file, also in a subprocess.

    .venv/bin/python -m bench.uploads [10 100 500]      # sizes in MB; prints a table
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MB = 1_000_000
FORMATS = ("k6-ndjson", "jmeter-csv", "locust-csv")
TARGET_MB_S = 50.0
TARGET_RSS_MB = 100.0
START = 1_760_000_000
PATHS = ("/", "/login", "/api/orders", "/api/orders/{id}", "/checkout")


# -- generators ------------------------------------------------------------------------------

K6_TREND = ("http_req_duration", "http_req_blocked", "http_req_connecting",
            "http_req_tls_handshaking", "http_req_sending", "http_req_waiting",
            "http_req_receiving", "iteration_duration")
K6_METRICS = (("http_reqs", "counter"), ("http_req_failed", "rate"), ("data_sent", "counter"),
              ("data_received", "counter"), ("iterations", "counter"), ("checks", "rate"),
              ("vus", "gauge"), ("vus_max", "gauge")) + tuple((m, "trend") for m in K6_TREND)


def _k6_block(i: int) -> str:
    second = START + i // 200
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)) + f".{(i * 4999) % 1_000_000:06d}Z"
    path = PATHS[i % len(PATHS)]
    failed = i % 50 == 0
    status = "500" if failed else "200"
    method, expected = ("POST" if path == "/checkout" else "GET"), ("false" if failed else "true")
    tags = (f'{{"expected_response":"{expected}","group":"","method":"{method}",'
            f'"name":"http://127.0.0.1:8080{path}","proto":"HTTP/1.1","scenario":"default",'
            f'"status":"{status}","url":"http://127.0.0.1:8080{path}"}}')
    duration = 2 + (i * 7919) % 4000 / 10
    points = (("http_reqs", 1), ("http_req_duration", duration), ("http_req_blocked", 0.0041),
              ("http_req_connecting", 0), ("http_req_tls_handshaking", 0), ("http_req_sending", 0.0213),
              ("http_req_waiting", round(duration - 0.05, 4)), ("http_req_receiving", 0.0298),
              ("http_req_failed", 1 if failed else 0), ("data_sent", 92), ("data_received", 1367))
    lines = [f'{{"metric":"{m}","type":"Point","data":{{"time":"{stamp}","value":{v},"tags":{tags}}}}}\n'
             for m, v in points]
    it_tags = '{"group":"","scenario":"default"}'
    lines += [f'{{"metric":"{m}","type":"Point","data":{{"time":"{stamp}","value":{v},"tags":{it_tags}}}}}\n'
              for m, v in (("iterations", 1), ("iteration_duration", round(duration + 1.2, 4)),
                           ("checks", 0 if failed else 1))]
    if i % 200 == 0:
        lines += [f'{{"metric":"{m}","type":"Point","data":{{"time":"{stamp}","value":50,"tags":null}}}}\n'
                  for m in ("vus", "vus_max")]
    return "".join(lines)


def write_k6_ndjson(directory: Path, size_mb: float) -> list[Path]:
    path = directory / "k6-out.json"
    with path.open("w", encoding="utf-8") as out:
        written = 0
        for name, kind in K6_METRICS:
            line = json.dumps({"type": "Metric", "data": {"name": name, "type": kind, "contains": "default",
                                                          "thresholds": [], "submetrics": None},
                               "metric": name}, separators=(",", ":")) + "\n"
            written += out.write(line)
        i = 0
        while written < size_mb * MB:
            written += out.write(_k6_block(i))
            i += 1
    return [path]


JTL_HEADER = ("timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,"
              "failureMessage,bytes,sentBytes,grpThreads,allThreads,URL,Latency,IdleTime,Connect\n")


def _jtl_block(i: int) -> str:
    ts, thread = START * 1000 + i * 3, f"Thread Group 1-{i % 50 + 1}"
    elapsed = 5 + (i * 7919) % 900
    path = PATHS[i % len(PATHS)]
    ok = i % 40 != 0
    code, message = ("200", "OK") if ok else ("500", "Internal Server Error")
    failure = "" if ok else "Test failed: code expected to be 200"
    rows = [f"{ts},{elapsed},GET {path},{code},{message},{thread},text,{'true' if ok else 'false'},{failure},"
            f"39447,302,50,50,http://127.0.0.1:8080{path},{elapsed // 2},0,{i % 3}\n"]
    if i % 4 == 0:  # a redirect: two sub-results after their parent
        rows += [f"{ts},{elapsed // 3},GET {path}-{n},{307 if n == 0 else 200},OK,{thread},text,true,,"
                 f"383,151,50,50,http://127.0.0.1:8080{path},{elapsed // 3},0,0\n" for n in (0, 1)]
    return "".join(rows)


def write_jmeter_csv(directory: Path, size_mb: float) -> list[Path]:
    path = directory / "results.jtl"
    with path.open("w", encoding="utf-8") as out:
        written, i = out.write(JTL_HEADER), 0
        while written < size_mb * MB:
            written += out.write(_jtl_block(i))
            i += 1
    return [path]


PERCENTILES = ("50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%")
HISTORY_HEADER = ("Timestamp,User Count,Type,Name,Requests/s,Failures/s," + ",".join(PERCENTILES)
                  + ",Total Request Count,Total Failure Count,Total Median Response Time,"
                  "Total Average Response Time,Total Min Response Time,Total Max Response Time,"
                  "Total Average Content Size\r\n")


def _history_block(second: int) -> str:
    rows = []
    for n, (method, name) in enumerate([("GET", p) for p in PATHS] + [("", "Aggregated")]):
        base = 10 + (second * 31 + n * 7) % 200
        pct = ",".join(str(base + k * 3) for k in range(len(PERCENTILES)))
        rows.append(f"{START + second},60,{method},{name},{50 + second % 17}.400000,{(second % 5) / 10:.6f},"
                    f"{pct},{second * 55 + n},{second // 40},{base},{base * 1.1:.6f},1.5,{base * 9},1367.0\r\n")
    return "".join(rows)


LOCUST_STATS = (
    "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,"
    "Max Response Time,Average Content Size,Requests/s,Failures/s," + ",".join(PERCENTILES) + "\r\n"
    + "".join(f"GET,{p},1000,10,40,45.2,1.5,900,1367.0,50.1,0.5," + ",".join(str(40 + k * 10) for k in range(11)) + "\r\n"
              for p in PATHS)
    + ",Aggregated,5000,50,40,45.2,1.5,900,1367.0,250.5,2.5," + ",".join(str(40 + k * 10) for k in range(11)) + "\r\n")


def write_locust_csv(directory: Path, size_mb: float) -> list[Path]:
    stats, history = directory / "run_stats.csv", directory / "run_stats_history.csv"
    stats.write_bytes(LOCUST_STATS.encode())
    with history.open("w", encoding="utf-8", newline="") as out:
        written, second = out.write(HISTORY_HEADER), 0
        while written + len(LOCUST_STATS) < size_mb * MB:
            written += out.write(_history_block(second))
            second += 1
    return [stats, history]


WRITERS: dict[str, Callable[[Path, float], list[Path]]] = {
    "k6-ndjson": write_k6_ndjson, "jmeter-csv": write_jmeter_csv, "locust-csv": write_locust_csv}


# -- measuring (each parse in a fresh subprocess) ------------------------------------------------

def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _rss_start_kb() -> int:
    """The RSS now, with the peak reset to it (Linux: ``clear_refs`` 5 resets VmHWM), so that
    :func:`_rss_peak_kb` is the parse's own peak, not the imports' (importing can peak higher
    than what stays resident, which would hide the parse's growth)."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    except OSError:
        pass
    now = _status_kb("VmRSS")
    return now if now is not None else _rss_peak_kb()


def _rss_peak_kb() -> int:
    peak = _status_kb("VmHWM")  # reset by _rss_start_kb where the kernel allows it
    if peak is not None:
        return peak
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux: the peak so far


def _child_parse(fmt: str, paths: list[str]) -> dict:
    from app.parsers import InputFile, parse_run

    before = _rss_start_kb()
    streams = [open(p, "rb") for p in paths]  # noqa: SIM115 (closed below)
    try:
        started, cpu = time.perf_counter(), time.process_time()
        run = parse_run([InputFile(Path(p).name, s) for p, s in zip(paths, streams, strict=True)], fmt)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        for s in streams:
            s.close()
    return {"seconds": seconds, "cpu_seconds": cpu, "rss_growth_mb": (_rss_peak_kb() - before) / 1024,
            "requests": run.summary.requests, "p95_ms": run.summary.latency_ms.p95,
            "points": len(run.timeseries), "endpoints": len(run.endpoints)}


def _child_pandas(paths: list[str]) -> dict:
    import pandas as pd

    before = _rss_start_kb()
    started, cpu = time.perf_counter(), time.process_time()
    frame = pd.read_csv(paths[0], usecols=["timeStamp", "elapsed", "label", "success"])
    quantiles = frame["elapsed"].quantile([0.5, 0.9, 0.95, 0.99])
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"seconds": seconds, "cpu_seconds": cpu, "rss_growth_mb": (_rss_peak_kb() - before) / 1024, "requests": len(frame),
            "p95_ms": float(quantiles[0.95]), "points": None, "endpoints": None}


def measure(fmt: str, paths: list[Path], *, engine: str = "tradeoff", timeout: float = 900) -> dict:
    """Parse ``paths`` in a fresh Python process; returns one result row:
    format, engine, size_mb, seconds, mb_per_s, rss_growth_mb, requests, p95_ms, points, endpoints."""
    out = subprocess.run([sys.executable, "-m", "bench.uploads", "--child", engine, fmt, *map(str, paths)],
                         cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    if out.returncode != 0:
        raise RuntimeError(f"{engine} {fmt} failed: {out.stderr[-2000:]}")
    row = json.loads(out.stdout.strip().splitlines()[-1])
    size = sum(p.stat().st_size for p in paths) / MB
    return {"format": fmt, "engine": engine, "size_mb": round(size, 1), **row,
            "mb_per_s": size / row["seconds"] if row["seconds"] else None,
            "mb_per_cpu_s": size / row["cpu_seconds"] if row["cpu_seconds"] else None}


def pandas_available() -> bool:
    try:
        import pandas  # noqa: F401
    except ImportError:
        return False
    return True


def run_sizes(sizes_mb: list[float], *, anchor: bool = True, log=print) -> list[dict]:
    """Generate each format at each size (one at a time, deleted after), parse, measure."""
    rows = []
    for size in sizes_mb:
        for fmt in FORMATS:
            with tempfile.TemporaryDirectory(prefix="tradeoff-bench-") as tmp:
                paths = WRITERS[fmt](Path(tmp), size)
                rows.append(measure(fmt, paths))
                log(_line(rows[-1]))
                if fmt == "jmeter-csv" and anchor and pandas_available():
                    rows.append(measure(fmt, paths, engine="pandas"))
                    log(_line(rows[-1]))
    return rows


def _line(row: dict) -> str:
    return (f"{row['engine']:9} {row['format']:11} {row['size_mb']:7.1f} MB  {row['mb_per_s']:7.1f} MB/s "
            f"({row['mb_per_cpu_s']:.1f} MB per CPU-s)  "
            f"peak RSS +{row['rss_growth_mb']:.1f} MB  requests {row['requests']}")


def section() -> list[str]:
    """bench/run.py's section: every format at BENCH_UPLOAD_MB sizes (default 10,100,500)."""
    sizes = [float(x) for x in os.environ.get("BENCH_UPLOAD_MB", "10,100,500").split(",") if x]
    anchor = pandas_available()
    rows = run_sizes(sizes, anchor=anchor)
    ours = [r for r in rows if r["engine"] == "tradeoff"]
    lines = ["Generated files (bench/uploads.py, in a temporary directory, deleted after): k6 `--out json` as k6 "
             "writes it (14 Point lines per request, Metric lines, a vus gauge), a default 17-column JMeter CSV "
             "JTL (every 4th sample with two redirect sub-results), a Locust `--csv-full-history` set (a small "
             "`_stats.csv` and a large `_stats_history.csv`: 5 endpoints + Aggregated per second). Each parse "
             "runs in a fresh Python process: MB/s = file size ÷ wall time of `parse_run` (MB per CPU-second "
             "next to it, less sensitive to other work on the machine); peak RSS growth = the peak RSS during "
             "the parse (`VmHWM`, reset when the imports are done) minus the RSS then.", "",
             "| Format | size | MB/s | MB per CPU-s | peak RSS growth | requests | ≥ 50 MB/s? | ≤ 100 MB? |",
             "|---|---|---|---|---|---|---|---|"]
    for r in ours:
        lines.append(f"| {r['format']} | {r['size_mb']:.0f} MB | {r['mb_per_s']:.1f} | {r['mb_per_cpu_s']:.1f} | "
                     f"{r['rss_growth_mb']:.1f} MB | {r['requests']:,} | "
                     f"{'yes' if r['mb_per_s'] >= TARGET_MB_S else '**no**'} | "
                     f"{'yes' if r['rss_growth_mb'] <= TARGET_RSS_MB else '**no**'} |")
    lines += ["", _targets_line(ours), ""]
    if anchor:
        lines += ["Anchor: `pandas.read_csv(usecols=timeStamp, elapsed, label, success)` + `quantile([.5, .9, .95, "
                  ".99])` on the same JTL file, in a fresh process (pandas keeps the whole table in memory; "
                  "Tradeoff also skips sub-results, counts failures, endpoints and a time series):", "",
                  "| JTL size | pandas MB/s | pandas peak RSS growth | Tradeoff ÷ pandas (speed) |", "|---|---|---|---|"]
        for size in sizes:
            mine = next(r for r in ours if r["format"] == "jmeter-csv" and round(r["size_mb"]) == round(size))
            theirs = next((r for r in rows if r["engine"] == "pandas" and r["size_mb"] == mine["size_mb"]), None)
            if theirs:
                lines.append(f"| {mine['size_mb']:.0f} MB | {theirs['mb_per_s']:.1f} | {theirs['rss_growth_mb']:.0f} MB "
                             f"| {mine['mb_per_s'] / theirs['mb_per_s']:.2f} |")
    else:
        lines.append("Anchor skipped: pandas is not installed (`pip install -e '.[bench]'`; `make bench` does).")
    return lines


def _targets_line(ours: list[dict]) -> str:
    """The issue's two targets, per format, from the slowest and the hungriest size."""
    speeds = []
    for fmt in dict.fromkeys(r["format"] for r in ours):
        mine = [r for r in ours if r["format"] == fmt]
        low = min(r["mb_per_s"] for r in mine)
        speeds.append(f"{fmt} {low:.0f}–{max(r['mb_per_s'] for r in mine):.0f} MB/s "
                      f"({'met' if low >= TARGET_MB_S else '**not met**'})")
    growth = max(r["rss_growth_mb"] for r in ours)
    return (f"**Targets:** ≥ {TARGET_MB_S:g} MB/s at every size — {'; '.join(speeds)}. Peak RSS growth "
            f"≤ {TARGET_RSS_MB:g} MB whatever the size — {'met' if growth <= TARGET_RSS_MB else '**not met**'} "
            f"(at most {growth:.1f} MB). The parsers stream: k6 and Locust skip the lines the run does not "
            "aggregate without decoding them; a JTL is read in 128 KiB blocks, and a plain block (no quoting, "
            "the header's field count, plain integers) is read at once with numpy (app/parsers/jtl_fast.py), "
            "any other row by the row reader, with identical results (tests/parsers/test_jtl_fast_path.py).")


def main(argv: list[str]) -> None:
    if argv[:1] == ["--child"]:
        engine, fmt, *paths = argv[1:]
        row = _child_pandas(paths) if engine == "pandas" else _child_parse(fmt, paths)
        print(json.dumps(row))
        return
    run_sizes([float(a) for a in argv] or [10, 100, 500])


if __name__ == "__main__":
    main(sys.argv[1:])
