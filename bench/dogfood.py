"""Benchmark 6 — dogfood: Locust (bench/locustfile.py) loads Tradeoff as a workshop does, and
the files Locust writes are uploaded into the same review as a benchmark run of "Flask"
(Tradeoff is a Flask app), through the upload route, like a person would.

    .venv/bin/python -m bench.dogfood [SECONDS] [USERS]      # prints the section's Markdown

Loopback only: gunicorn (bench/run.py's settings) on 127.0.0.1, Locust headless and bounded
(``-t SECONDS``)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LOCUST_FILES = ("stats", "stats_history", "failures")


@dataclass
class Dogfood:
    review_id: int
    url: str
    files: list[Path]
    upload_status: int
    upload_message: str
    runs_page: str = ""
    locust_log: str = ""
    figures: dict = field(default_factory=dict)


def run_locust(url: str, seeded: dict, out: Path, seconds: int, users: int, env: dict) -> tuple[list[Path], str]:
    """Locust headless against ``url``: returns its --csv files (stats, history, failures)."""
    prefix = out / "tradeoff"
    cmd = [str(BIN / "locust"), "-f", str(ROOT / "bench" / "locustfile.py"), "--headless", "-u", str(users),
           "-r", str(users), "-t", f"{seconds}s", "--host", url, "--csv", str(prefix), "--csv-full-history",
           "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "5", "--exit-code-on-error", "0"]
    run_env = {**env, "TRADEOFF_BENCH_REVIEW": str(seeded["review_id"]),
               "TRADEOFF_BENCH_USERS": ",".join(seeded["member_emails"]),
               "TRADEOFF_BENCH_PASSWORD": seeded["password"]}
    done = subprocess.run(cmd, cwd=out, env=run_env, capture_output=True, text=True, timeout=seconds + 120)
    if done.returncode != 0:
        raise RuntimeError(f"locust exited {done.returncode}: {done.stderr[-2000:]}")
    files = [Path(f"{prefix}_{kind}.csv") for kind in LOCUST_FILES]
    missing = [f.name for f in files if not f.exists()]
    if missing:
        raise RuntimeError(f"locust wrote no {', '.join(missing)}: {done.stderr[-2000:]}")
    return files, done.stderr


def upload_run(url: str, seeded: dict, files: list[Path], label: str):
    """Upload Locust's files to the review as a run of "Flask", through the upload form's route
    (an htmx request, as the page sends it). Returns (the logged-in session, the response)."""
    from bench.pages import login_session

    session = login_session(url, seeded["owner_email"], seeded["password"])
    page = session.get(f"{url}/reviews/{seeded['review_id']}/steps/benchmarks", timeout=60).text
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    handles = [f.open("rb") for f in files]
    try:
        response = session.post(
            f"{url}/reviews/{seeded['review_id']}/benchmarks", timeout=300,
            headers={"X-CSRFToken": token, "HX-Request": "true"},
            data={"upload-candidate": "Flask", "upload-label": label, "upload-tool": "",
                  "upload-server": "gunicorn -w 1 --threads 50 (SQLite)", "upload-hardware": "this machine",
                  "upload-notes": "Dogfood: Locust (bench/locustfile.py) against Tradeoff itself."},
            files=[("upload-files", (f.name, h, "text/csv")) for f, h in zip(files, handles, strict=True)])
    finally:
        for h in handles:
            h.close()
    return session, response


def dogfood(seconds: int = 30, users: int = 10, keep: Path | None = None, size: str | None = None) -> Dogfood:
    """Seed a workshop (bench/seed.py's default world, or ``size`` as its --size), serve it,
    load it with Locust, upload Locust's files as a run."""
    from app.parsers import InputFile, parse_run
    from bench.pages import seed_instance, serve, server_env, stop

    tmp = Path(tempfile.mkdtemp(prefix="tradeoff-dogfood-"))
    proc = None
    try:
        env = server_env(tmp)
        seeded = seed_instance(env, "--workshop", *(["--size", size] if size else []))
        proc, url = serve("wsgi:app", env)
        out = keep or tmp
        files, log = run_locust(url, seeded, out, seconds, users, env)
        label = f"Dogfood: Locust {users} users, {seconds} s"
        session, response = upload_run(url, seeded, files, label)
        runs_page = session.get(f"{url}/reviews/{seeded['review_id']}/steps/benchmarks", timeout=60).text
        handles = [f.open("rb") for f in files]
        try:
            parsed = parse_run([InputFile(f.name, h) for f, h in zip(files, handles, strict=True)])
        finally:
            for h in handles:
                h.close()
        summary = parsed.summary
        figures = {"format": parsed.format, "requests": summary.requests, "failures": summary.failures,
                   "rps": summary.rps, "p50_ms": summary.latency_ms.p50, "p95_ms": summary.latency_ms.p95,
                   "points": len(parsed.timeseries), "endpoints": {e.name: e.requests for e in parsed.endpoints}}
        message = re.sub(r"<[^>]+>", "", response.text)
        message = " ".join(message.split())
        return Dogfood(seeded["review_id"], url, files, response.status_code, message[:400], runs_page, log,
                       figures)
    finally:
        if proc is not None:
            stop(proc)
        if keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


def section(seconds: int = 30, users: int = 10) -> list[str]:
    result = dogfood(seconds, users)
    f = result.figures
    ok = result.upload_status == 201 and f"Dogfood: Locust {users} users" in result.runs_page
    lines = [f"`locust -f bench/locustfile.py --headless -u {users} -r {users} -t {seconds}s --csv … "
             "--csv-full-history` against Tradeoff under gunicorn (`-w 1 --threads 50`, SQLite) on 127.0.0.1: "
             "each simulated member logs in, opens the workspace, follows the steps, scores cells of the blind "
             "matrix and votes (single choice). The world: `python -m bench.seed --workshop`.", "",
             f"Locust's `_stats.csv`, `_stats_history.csv` and `_failures.csv` were uploaded to the review as a "
             f"run of Flask through the upload route: HTTP {result.upload_status}, "
             f"{'listed on the benchmarks step' if ok else '**not found on the benchmarks step**'} "
             f"(“{result.upload_message[:160]}”).", "",
             "| Endpoint (Locust name) | requests |", "|---|---|"]
    lines += [f"| `{name}` | {n} |" for name, n in sorted(f["endpoints"].items())]
    lines += ["", f"As Tradeoff normalised it ({f['format']}): {f['requests']} requests, {f['failures']} failures, "
              f"{f['rps']:.1f} requests/s, p50 {f['p50_ms']} ms, p95 {f['p95_ms']} ms, "
              f"{f['points']} time-series points."]
    return lines


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    args = [int(a) for a in sys.argv[1:3]]
    print("\n".join(section(*args)))
