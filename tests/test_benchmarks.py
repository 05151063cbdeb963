"""Step 4 through the page: uploads of files made by the real tools (Locust from the venv; wrk,
ab and hey from Debian) and of hand-written ones, the bad-file corpus (nothing stored), limits,
downloads, the live room, run details, pins, deletes, starters, the report, evidence."""

from __future__ import annotations

import gzip
import importlib.util
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.extensions import db
from app.models import BenchmarkFile, BenchmarkRun, Candidate
from app.parsers import InputFile, parse_run
from app.services import benchmarks, constraints, mapping
from app.services.errors import Conflict
from tests.factories import PASSWORD, add_member, make_review, make_user
from tests.test_socketio import element

ROOT = Path(__file__).resolve().parent.parent
HX = {"HX-Request": "true"}
MULTIPART = "multipart/form-data"


def _load_tools():
    """scripts/make_bench_fixtures.py: the loopback server and the tool runners."""
    spec = importlib.util.spec_from_file_location("make_bench_fixtures",
                                                  ROOT / "scripts" / "make_bench_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


tools = _load_tools()

# --- hand-written files, from ../shared/samples/FORMATS.md -----------------------------------

AB_TEXT = """This is ApacheBench, Version 2.3 <$Revision: 1903618 $>
Copyright 1996 Adam Twiss, Zeus Technology Ltd, http://www.zeustech.net/
Licensed to The Apache Software Foundation, http://www.apache.org/

Benchmarking 127.0.0.1 (be patient).....done


Server Software:
Server Hostname:        127.0.0.1
Server Port:            8000

Document Path:          /orders
Document Length:        27 bytes

Concurrency Level:      10
Time taken for tests:   40.000 seconds
Complete requests:      20000
Failed requests:        0
Total transferred:      1960000 bytes
HTML transferred:       540000 bytes
Requests per second:    500.00 [#/sec] (mean)
Time per request:       20.000 [ms] (mean)
Time per request:       2.000 [ms] (mean, across all concurrent requests)
Transfer rate:          47.85 [Kbytes/sec] received

Connection Times (ms)
              min  mean[+/-sd] median   max
Connect:        0    0   0.0      0       1
Processing:     2   20   5.1     18      90
Waiting:        2   20   5.1     18      90
Total:          2   20   5.1     18      91

Percentage of the requests served within a certain time (ms)
  50%     18
  66%     21
  75%     23
  80%     25
  90%     30
  95%     35
  98%     50
  99%     60
 100%     91 (longest request)
"""

K6_SUMMARY = {
    "root_group": {"name": "", "path": "", "id": "d41d8cd98f00b204e9800998ecf8427e",
                   "groups": {}, "checks": {}},
    "metrics": {
        "http_reqs": {"count": 60000, "rate": 1000.0},
        "http_req_duration": {"avg": 40.0, "min": 2.0, "med": 30.0, "max": 900.0,
                              "p(90)": 80.0, "p(95)": 120.0, "p(99)": 300.0},
        "http_req_failed": {"passes": 120, "fails": 59880, "value": 0.002},
        "iteration_duration": {"avg": 41.0, "min": 2.5, "med": 31.0, "max": 901.0,
                               "p(90)": 81.0, "p(95)": 121.0},
        "vus": {"value": 50, "min": 50, "max": 50},
        "vus_max": {"value": 50, "min": 50, "max": 50},
    },
}
K6_TEXT = json.dumps(K6_SUMMARY)

JMETER_HEADER = ("timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,"
                 "success,failureMessage,bytes,sentBytes,grpThreads,allThreads,URL,Latency,"
                 "IdleTime,Connect\n")


def jmeter_csv(rows: int, start: int = 1_700_000_000_000) -> str:
    """A JMeter CSV JTL with ``rows`` samples, one every 10 ms, every 50th one failing."""
    lines = [JMETER_HEADER]
    for i in range(rows):
        ok = i % 50 != 49
        lines.append(f"{start + 10 * i},{20 + i % 30},GET /orders,{200 if ok else 500},"
                     f"{'OK' if ok else 'Server Error'},Users 1-{i % 8 + 1},text,"
                     f"{'true' if ok else 'false'},,512,120,8,8,http://127.0.0.1/orders,"
                     f"{15 + i % 30},0,1\n")
    return "".join(lines)


LOCUST_HEADER = ("Type,Name,Request Count,Failure Count,Median Response Time,Average Response "
                 "Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,"
                 "Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%\n")

# The bad-file corpus: each must get a 4xx with a message, and nothing may be stored.
BAD_FILES = {
    "empty": ("empty.csv", b""),
    "binary": ("image.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8),
    "truncated": ("summary.json", K6_TEXT[: len(K6_TEXT) // 2].encode()),
    "wrong_tool": ("people.csv", b"name,age,city\nAnn,34,Oslo\nBen,29,Rome\n"),
    "invalid_utf8": ("ab.txt", AB_TEXT.encode().replace(b"Complete requests", b"Compl\xff\xfe")),
    "nan": ("summary.json", K6_TEXT.replace('"p(95)": 120.0', '"p(95)": NaN').encode()),
    "negative": ("summary.json", K6_TEXT.replace('"count": 60000', '"count": -5').encode()),
    "header_only": ("run_stats.csv", LOCUST_HEADER.encode()),
    "bad_gzip": ("ab.txt.gz", gzip.compress(AB_TEXT.encode())[:40]),
    "gzip_of_garbage": ("x.json.gz", gzip.compress(b"\x00\x01garbage" * 100)),
}


# --- real tool files -----------------------------------------------------------------------

@pytest.fixture(scope="session")
def tool_files(tmp_path_factory):
    """Run Locust, wrk, ab and hey once against the loopback server; their files by name, and
    the tools' own printouts (a tool that is not installed is simply missing)."""
    out = tmp_path_factory.mktemp("tools")
    made: dict[str, Path] = {}
    with tools.Simulator() as sim:
        if tools.have("locust"):
            for kind, path in tools.run_locust(out / "locust", sim.url("flask"), users=5,
                                               seconds=3, json_file=True).items():
                made[f"locust_{kind}"] = path
        for tool, run in (("wrk", lambda u: tools.run_wrk(u, seconds=1, connections=4)),
                          ("ab", lambda u: tools.run_ab(u, requests=150, concurrency=3)),
                          ("hey", lambda u: tools.run_hey(u, requests=150, concurrency=3))):
            if tools.have(tool):
                path = out / f"{tool}.txt"
                path.write_text(run(sim.url("fast") + "/orders"))
                made[tool] = path
    return made


def need(tool_files, *names):
    missing = [n for n in names if n not in tool_files]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (Locust in the venv; wrk, ab, hey from Debian)")
    return [tool_files[n] for n in names]


# --- helpers -------------------------------------------------------------------------------

def login(app, user):
    client = app.test_client()
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 303
    return client


def upload(client, review, candidate, *files, headers=HX, **fields):
    """POST the page's upload form; ``files`` are (name, bytes) pairs."""
    data = {"upload-candidate": str(candidate.id if isinstance(candidate, Candidate) else candidate),
            "upload-files": [(io.BytesIO(body), name) for name, body in files]}
    data |= {f"upload-{key}": value for key, value in fields.items()}
    return client.post(f"/reviews/{review.id}/benchmarks", data=data, headers=headers,
                       content_type=MULTIPART)


def read(path: Path) -> tuple[str, bytes]:
    return path.name, path.read_bytes()


def stored_blobs(app) -> list[Path]:
    root = Path(app.config["UPLOAD_FOLDER"])
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def count(model) -> int:
    return db.session.scalar(db.select(db.func.count()).select_from(model))


def parsed(*files: tuple[str, bytes]):
    return parse_run([InputFile(name, io.BytesIO(body)) for name, body in files])


def add_targets(review, owner, *, rps=800, p95=150, error_pct=0.5, memory=512, knockout=True):
    constraints.add_constraint(owner, review, kind="traffic_rps", priority="must", target=rps)
    constraints.add_constraint(owner, review, kind="latency_p95_ms", priority="must",
                               knockout=knockout, target=p95)
    constraints.add_constraint(owner, review, kind="error_rate_pct", priority="should",
                               target=error_pct)
    constraints.add_constraint(owner, review, kind="memory_mb", priority="could", target=memory)


# --- uploads of every kind of real and hand-written file --------------------------------------

def test_upload_locust_csv_set_from_a_real_run(app, world, tool_files):
    stats, history, failures = need(tool_files, "locust_stats", "locust_history", "locust_failures")
    files = [read(stats), read(history), read(failures)]
    client = login(app, world.users["member"])
    r = upload(client, world.review, world.review.candidates[1], *files, label="5 users",
               server="gunicorn 4 sync workers", memory_mb="180")
    assert r.status_code == 201, r.get_data(as_text=True)[:2000]
    assert r.headers["HX-Trigger"] == "benchmarks-changed"
    run = db.session.scalar(db.select(BenchmarkRun))
    expected = parsed(*files)
    assert (run.format, run.tool, run.label) == ("locust-csv", "locust", "5 users")
    assert run.figure("requests") == expected.summary.requests > 0
    assert run.figure("rps") == pytest.approx(expected.summary.rps)
    assert run.latency("p95") == expected.summary.latency_ms.p95
    assert run.figure("concurrency") == 5 and run.has_timeseries
    assert (run.server, run.memory_mb) == ("gunicorn 4 sync workers", 180.0)
    assert [f.name for f in run.files] == [name for name, _ in files]
    assert "Added" in r.get_data(as_text=True) and "Flask" in r.get_data(as_text=True)
    page = client.get(f"/reviews/{world.review.id}/steps/benchmarks").get_data(as_text=True)
    assert "5 users" in element(page, "region-benchmarks")
    assert "<svg" in page and "Requests/s over time" in page


@pytest.mark.parametrize("tool, fmt", [("wrk", "wrk"), ("ab", "ab"), ("hey", "hey"),
                                       ("locust_json", "locust-json")])
def test_upload_real_tool_output(app, world, tool_files, tool, fmt):
    (path,) = need(tool_files, tool)
    r = upload(login(app, world.users["member"]), world.review, world.review.candidates[0],
               read(path))
    assert r.status_code == 201, r.get_data(as_text=True)[:2000]
    run = db.session.scalar(db.select(BenchmarkRun))
    assert run.format == fmt
    expected = parsed(read(path))
    assert run.figure("requests") == expected.summary.requests > 0
    assert run.figure("failures") == expected.summary.failures


def test_ab_figures_match_the_tools_own_printout(app, world, tool_files):
    (path,) = need(tool_files, "ab")
    text = path.read_text()
    upload(login(app, world.users["member"]), world.review, world.review.candidates[0], read(path))
    run = db.session.scalar(db.select(BenchmarkRun))
    assert run.figure("requests") == int(re.search(r"Complete requests:\s+(\d+)", text)[1]) == 150
    assert run.figure("rps") == float(re.search(r"Requests per second:\s+([\d.]+)", text)[1])
    assert run.figure("concurrency") == 3


@pytest.mark.parametrize("name, body, fmt, requests", [
    ("summary.json", K6_TEXT.encode(), "k6-summary-export", 60000),
    ("results.jtl", jmeter_csv(500).encode(), "jmeter-csv", 500),
    ("ab.txt", AB_TEXT.encode(), "ab", 20000),
    ("ab.txt.gz", gzip.compress(AB_TEXT.encode()), "ab", 20000),
])
def test_upload_hand_written_files(app, world, name, body, fmt, requests):
    r = upload(login(app, world.users["member"]), world.review, world.review.candidates[2],
               (name, body))
    assert r.status_code == 201, r.get_data(as_text=True)[:2000]
    run = db.session.scalar(db.select(BenchmarkRun))
    assert (run.format, run.figure("requests")) == (fmt, requests)
    assert run.files[0].bytes == len(body)  # the original bytes are kept, .gz and all


def test_jmeter_samples_are_recomputed_and_say_so(app, world):
    upload(login(app, world.users["member"]), world.review, world.review.candidates[0],
           ("results.jtl", jmeter_csv(500).encode()))
    run = db.session.scalar(db.select(BenchmarkRun))
    assert run.recomputed and run.figure("failures") == 10
    assert run.figure("error_rate") == pytest.approx(0.02)  # a fraction, not a percentage
    page = login(app, world.users["observer"]).get(
        f"/reviews/{world.review.id}/benchmarks/runs/{run.id}").get_data(as_text=True)
    assert "recomputed from the raw samples" in page


def test_format_override_and_tool_name(app, world):
    client = login(app, world.users["member"])
    cand = world.review.candidates[0]
    wrong = upload(client, world.review, cand, ("ab.txt", AB_TEXT.encode()), tool="hey")
    assert wrong.status_code == 422 and "looks like ApacheBench" in wrong.get_data(as_text=True)
    assert count(BenchmarkRun) == 0 and not stored_blobs(app)
    assert upload(client, world.review, cand, ("ab.txt", AB_TEXT.encode()),
                  tool="ab").status_code == 201


def test_upload_by_candidate_name_through_the_service(app, world):
    run = benchmarks.ingest_run(world.users["member"], world.review, "fastapi",
                                [benchmarks.IncomingFile("a.txt", io.BytesIO(AB_TEXT.encode()))],
                                benchmarks.RunDetails(tool="ab"))
    assert run.candidate.name == "FastAPI"


# --- bad files: a 4xx with a message, nothing stored ------------------------------------------

@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_files_through_the_page_store_nothing(app, world, case):
    name, body = BAD_FILES[case]
    client = login(app, world.users["member"])
    r = upload(client, world.review, world.review.candidates[0], (name, body))
    assert 400 <= r.status_code < 500, (case, r.status_code)
    html = r.get_data(as_text=True)
    assert 'class="error"' in html and name.split(".")[0] in html, html[:3000]
    assert count(BenchmarkRun) == 0 and count(BenchmarkFile) == 0
    assert stored_blobs(app) == []


def test_bad_file_among_good_ones_stores_nothing(app, world):
    r = upload(login(app, world.users["member"]), world.review, world.review.candidates[0],
               ("ab.txt", AB_TEXT.encode()), BAD_FILES["binary"])
    assert r.status_code == 422
    assert count(BenchmarkRun) == 0 and stored_blobs(app) == []


def test_missing_candidate_or_files_and_bad_figures(app, world):
    client = login(app, world.users["member"])
    no_files = upload(client, world.review, world.review.candidates[0])
    assert no_files.status_code == 422 and "result file" in no_files.get_data(as_text=True)
    no_candidate = upload(client, world.review, "", ("ab.txt", AB_TEXT.encode()))
    assert no_candidate.status_code == 422 and "Choose a candidate" in no_candidate.get_data(
        as_text=True)
    other = make_review(world.team, title="Other")
    foreign = upload(client, world.review, other.candidates[0], ("ab.txt", AB_TEXT.encode()))
    assert foreign.status_code == 422
    for field, value in (("memory_mb", "-1"), ("memory_mb", "nan"), ("cpu_percent", "lots")):
        bad = upload(client, world.review, world.review.candidates[0],
                     ("ab.txt", AB_TEXT.encode()), **{field: value})
        assert bad.status_code == 422, (field, value)
    assert count(BenchmarkRun) == 0 and stored_blobs(app) == []


def test_oversized_upload_gets_413_before_anything_is_stored(app, world):
    app.config["MAX_CONTENT_LENGTH"] = 4096
    r = upload(login(app, world.users["member"]), world.review, world.review.candidates[0],
               ("big.jtl", jmeter_csv(200).encode()))
    assert r.status_code == 413
    assert "larger than" in r.get_data(as_text=True)
    assert count(BenchmarkRun) == 0 and stored_blobs(app) == []


def test_gzip_bomb_is_refused_by_the_decompressed_limit(app, world):
    app.config["BENCHMARK_MAX_DECOMPRESSED_BYTES"] = 100_000
    bomb = gzip.compress(jmeter_csv(5000).encode())  # ~0.6 MB inflated, small on the wire
    r = upload(login(app, world.users["member"]), world.review, world.review.candidates[0],
               ("results.jtl.gz", bomb))
    assert r.status_code == 422 and "decompresses to more than" in r.get_data(as_text=True)
    assert count(BenchmarkRun) == 0 and stored_blobs(app) == []


def test_upload_checks_csrf_after_the_access_check(app, world):
    client = login(app, world.users["member"])
    outsider = login(app, world.users["non_member"])
    app.config["WTF_CSRF_ENABLED"] = True
    r = upload(client, world.review, world.review.candidates[0], ("ab.txt", AB_TEXT.encode()))
    assert r.status_code == 400 and count(BenchmarkRun) == 0
    assert upload(outsider, world.review, world.review.candidates[0],
                  ("ab.txt", AB_TEXT.encode())).status_code == 404  # not a CSRF error first
    page = client.get(f"/reviews/{world.review.id}/steps/benchmarks").get_data(as_text=True)
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page)[1]
    ok = upload(client, world.review, world.review.candidates[0], ("ab.txt", AB_TEXT.encode()),
                headers=HX | {"X-CSRFToken": token})
    assert ok.status_code == 201


def test_frozen_review_refuses_uploads(app, world):
    world.review.status = "signed_off"
    db.session.commit()
    r = upload(login(app, world.users["member"]), world.review, world.review.candidates[0],
               ("ab.txt", AB_TEXT.encode()))
    assert r.status_code == 409 and count(BenchmarkRun) == 0 and stored_blobs(app) == []


def test_plain_form_post_redirects_with_a_flash(app, world):
    client = login(app, world.users["member"])
    r = upload(client, world.review, world.review.candidates[0], ("ab.txt", AB_TEXT.encode()),
               headers={})
    assert r.status_code == 303 and r.headers["Location"].endswith("/steps/benchmarks")
    bad = upload(client, world.review, world.review.candidates[0], BAD_FILES["empty"], headers={})
    assert bad.status_code == 422 and "<html" in bad.get_data(as_text=True)


# --- files, content addressing, downloads ----------------------------------------------------

def test_files_are_content_addressed_and_downloaded_as_attachments(app, world):
    client = login(app, world.users["member"])
    html = "<html><script>alert(1)</script>" + AB_TEXT
    upload(client, world.review, world.review.candidates[0], ("report.html", html.encode()),
           tool="ab")
    upload(client, world.review, world.review.candidates[1], ("same.html", html.encode()),
           tool="ab")
    first, second = db.session.scalars(db.select(BenchmarkRun).order_by(BenchmarkRun.id)).all()
    assert first.files[0].sha256 == second.files[0].sha256
    assert len(stored_blobs(app)) == 1  # one copy on disk
    blob = stored_blobs(app)[0]
    assert blob.name == first.files[0].sha256 and blob.read_bytes() == html.encode()
    r = login(app, world.users["observer"]).get(
        f"/reviews/{world.review.id}/benchmarks/runs/{first.id}/files/{first.files[0].id}")
    assert r.status_code == 200 and r.data == html.encode()
    assert r.headers["Content-Disposition"].startswith("attachment")
    assert "report.html" in r.headers["Content-Disposition"]
    assert r.mimetype == "application/octet-stream"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in r.headers["Content-Security-Policy"]
    other = login(app, world.users["observer"]).get(
        f"/reviews/{world.review.id}/benchmarks/runs/{first.id}/files/{second.files[0].id}")
    assert other.status_code == 404  # a file of another run


def test_delete_keeps_shared_files_and_checks_who(app, world):
    member, other = world.users["member"], add_member(world.team, "member", make_user())
    for user, cand in ((member, 0), (other, 1)):
        upload(login(app, user), world.review, world.review.candidates[cand],
               ("ab.txt", AB_TEXT.encode()))
    mine, theirs = db.session.scalars(db.select(BenchmarkRun).order_by(BenchmarkRun.id)).all()
    client = login(app, member)
    refused = client.post(f"/reviews/{world.review.id}/benchmarks/runs/{theirs.id}/delete")
    assert refused.status_code == 403
    assert client.post(f"/reviews/{world.review.id}/benchmarks/runs/{mine.id}/delete"
                       ).status_code == 303
    assert len(stored_blobs(app)) == 1  # still used by the other run
    login(app, world.users["facilitator"]).post(
        f"/reviews/{world.review.id}/benchmarks/runs/{theirs.id}/delete")
    assert count(BenchmarkRun) == 0 and stored_blobs(app) == []


# --- run details, pins ------------------------------------------------------------------------

def test_members_edit_what_was_tested_and_the_memory_check_follows(app, world):
    add_targets(world.review, world.users["owner"])
    upload(login(app, world.users["member"]), world.review, world.review.candidates[0],
           ("ab.txt", AB_TEXT.encode()))
    run = db.session.scalar(db.select(BenchmarkRun))
    url = f"/reviews/{world.review.id}/benchmarks/runs/{run.id}"
    page = login(app, world.users["observer"]).get(url).get_data(as_text=True)
    assert "No memory figure was entered" in page and "Edit these details" not in page
    client = login(app, world.users["member"])
    r = client.post(url, data={"run-label": "ab 10 users", "run-server": "uvicorn 2 workers",
                               "run-memory_mb": "600", "run-cpu_percent": "180"}, headers=HX)
    assert r.status_code == 200 and "uvicorn 2 workers" in r.get_data(as_text=True)
    db.session.expire_all()
    assert (run.label, run.memory_mb, run.cpu_percent) == ("ab 10 users", 600.0, 180.0)
    page = client.get(url).get_data(as_text=True)
    assert "memory 600 MB &gt; target 512 MB" in page
    bad = client.post(url, data={"run-memory_mb": "-5"}, headers=HX)
    assert bad.status_code == 422 and "Memory (MB) must be a number" in bad.get_data(as_text=True)
    assert login(app, world.users["observer"]).post(url, data={}).status_code == 403


def test_pin_a_run_to_compare_it_instead_of_the_latest(app, world):
    client = login(app, world.users["member"])
    cand = world.review.candidates[0]
    upload(client, world.review, cand, ("ab.txt", AB_TEXT.encode()), label="older")
    upload(client, world.review, cand, ("summary.json", K6_TEXT.encode()), label="newer")
    older = db.session.scalar(db.select(BenchmarkRun).where(BenchmarkRun.label == "older"))
    assert benchmarks.compare(world.review).row_for(cand.id).run.label == "newer"
    r = client.post(f"/reviews/{world.review.id}/benchmarks/runs/{older.id}/pin", headers=HX)
    assert r.status_code == 200 and 'id="region-benchmarks"' in r.get_data(as_text=True)
    db.session.expire_all()
    assert benchmarks.compare(world.review).row_for(cand.id).run.label == "older"
    client.post(f"/reviews/{world.review.id}/benchmarks/runs/{older.id}/pin", headers=HX)
    db.session.expire_all()
    assert benchmarks.compare(world.review).row_for(cand.id).run.label == "newer"


# --- the live room --------------------------------------------------------------------------

def test_a_new_run_reaches_everyone_in_the_room(app, world, socket_client):
    watcher = login(app, world.users["observer"])
    sc = socket_client(watcher, world.review.id)
    sc.get_received()
    upload(login(app, world.users["member"]), world.review, world.review.candidates[0],
           ("ab.txt", AB_TEXT.encode()), label="live run")
    refreshes = [m["args"][0] for m in sc.get_received() if m["name"] == "refresh"]
    assert ["benchmarks"] in [m["regions"] for m in refreshes]
    assert all("live run" not in json.dumps(m) for m in refreshes)  # names only, no HTML
    region = watcher.get(f"/reviews/{world.review.id}/regions/benchmarks", headers=HX)
    page = watcher.get(f"/reviews/{world.review.id}/steps/benchmarks").get_data(as_text=True)
    body = region.get_data(as_text=True).strip()
    assert "live run" in body
    assert element(page, "region-benchmarks") == element(body, "region-benchmarks")


def test_member_socket_hears_another_members_upload(app, world, socket_client):
    ana = login(app, world.users["member"])
    sc = socket_client(ana, world.review.id)
    sc.get_received()
    upload(login(app, world.users["facilitator"]), world.review, world.review.candidates[1],
           ("summary.json", K6_TEXT.encode()))
    assert "benchmarks" in [r for m in sc.get_received() if m["name"] == "refresh"
                            for r in m["args"][0]["regions"]]


# --- knock-outs -------------------------------------------------------------------------------

def test_failed_knockout_is_a_one_click_suggestion_for_the_facilitator(app, world, socket_client):
    add_targets(world.review, world.users["owner"], p95=30)  # ab's p95 is 35 ms
    django = world.review.candidates[0]
    upload(login(app, world.users["member"]), world.review, django, ("ab.txt", AB_TEXT.encode()))
    run = db.session.scalar(db.select(BenchmarkRun))
    cmp = benchmarks.compare(world.review)
    (suggestion,) = cmp.knockouts
    assert suggestion.candidate.id == django.id and not django.disqualified  # not automatic
    member_page = login(app, world.users["member"]).get(
        f"/reviews/{world.review.id}/steps/benchmarks").get_data(as_text=True)
    assert "Failed knock-out constraints" in member_page and "Disqualify Django" not in member_page
    facilitator = login(app, world.users["facilitator"])
    page = facilitator.get(f"/reviews/{world.review.id}/steps/benchmarks").get_data(as_text=True)
    assert "Disqualify Django" in page
    data = {"candidate_id": django.id, "constraint_id": suggestion.check.constraint_id,
            "run_id": run.id}
    assert login(app, world.users["member"]).post(
        f"/reviews/{world.review.id}/benchmarks/knockouts", data=data).status_code == 403
    r = facilitator.post(f"/reviews/{world.review.id}/benchmarks/knockouts", data=data, headers=HX)
    assert r.status_code == 200
    db.session.expire_all()
    assert django.disqualified
    assert f"#{run.id}" in django.disqualified_reason and "p95 35 ms > target 30 ms" in \
        django.disqualified_reason
    assert django.disqualified_by_constraint_id == suggestion.check.constraint_id
    assert benchmarks.compare(world.review).knockouts == []
    again = facilitator.post(f"/reviews/{world.review.id}/benchmarks/knockouts", data=data,
                             headers=HX)
    assert again.status_code == 409 and "already disqualified" in again.get_data(as_text=True)


def test_knockout_refused_when_the_run_passes(app, world):
    add_targets(world.review, world.users["owner"], p95=100)
    upload(login(app, world.users["member"]), world.review, world.review.candidates[0],
           ("ab.txt", AB_TEXT.encode()))
    run = db.session.scalar(db.select(BenchmarkRun))
    latency = next(c for c in constraints.constraints_of(world.review)
                   if c.kind == "latency_p95_ms")
    with pytest.raises(Conflict):
        benchmarks.apply_knockout(world.users["owner"], world.review, run.candidate_id,
                                  latency.id, run.id)
    r = login(app, world.users["owner"]).post(
        f"/reviews/{world.review.id}/benchmarks/knockouts", headers=HX,
        data={"candidate_id": run.candidate_id, "constraint_id": latency.id, "run_id": run.id})
    assert r.status_code == 409 and "does not fail" in r.get_data(as_text=True)


# --- evidence -------------------------------------------------------------------------------

def test_a_matrix_cell_cites_a_run_as_evidence(app, world):
    upload(login(app, world.users["member"]), world.review, world.review.candidates[0],
           ("ab.txt", AB_TEXT.encode()), label="cited run")
    run = db.session.scalar(db.select(BenchmarkRun))
    options = dict(mapping.evidence_options(world.review))
    assert "cited run" in options[f"run:{run.id}"]
    performance = next(c for c in mapping.criteria_of(world.review) if c.name == "Performance")
    score = mapping.score_cell(world.users["member"], world.review, performance.id,
                               run.candidate_id, 4, "fast enough", f"run:{run.id}")
    assert score.evidence == f"run:{run.id}"
    with app.test_request_context():
        assert mapping.evidence_url(world.review, score.evidence) == \
            f"/reviews/{world.review.id}/benchmarks/runs/{run.id}"
    other = make_review(world.team, title="Other")
    from app.services.errors import Invalid
    with pytest.raises(Invalid):
        mapping.score_cell(world.users["member"], other, mapping.criteria_of(other)[0].id,
                           other.candidates[0].id, 3, "", f"run:{run.id}")


# --- starters ---------------------------------------------------------------------------------

def test_starter_files_come_from_the_constraints_and_the_teams_endpoints(app, world):
    add_targets(world.review, world.users["owner"])
    client = login(app, world.users["member"])
    bad = client.post(f"/reviews/{world.review.id}/benchmarks/plan", headers=HX, data={
        "plan-endpoints": "GET /orders\"; import os", "plan-think_time_s": "1",
        "plan-users": "10", "plan-duration_s": "60", "plan-host": "http://127.0.0.1:8000"})
    assert bad.status_code == 422 and "Line 1" in bad.get_data(as_text=True)
    r = client.post(f"/reviews/{world.review.id}/benchmarks/plan", headers=HX, data={
        "plan-endpoints": "GET /orders 3\nPOST /orders\nget /orders/42?expand=items 2",
        "plan-think_time_s": "0.5", "plan-users": "20", "plan-duration_s": "120",
        "plan-host": "http://127.0.0.1:8000/"})
    assert r.status_code == 200 and "Starter settings saved" in r.get_data(as_text=True)
    observer = login(app, world.users["observer"])
    locust = observer.get(f"/reviews/{world.review.id}/benchmarks/starter/locustfile.py")
    assert locust.headers["Content-Disposition"] == 'attachment; filename="locustfile.py"'
    code = locust.get_data(as_text=True)
    compile(code, "locustfile.py", "exec")  # valid Python
    assert "TARGET_RPS = 800.0" in code and "P95_TARGET_MS = 150.0" in code
    assert "MAX_ERROR_RATE = 0.005" in code and "@task(3)" in code
    assert 'self.client.request("GET", "/orders/42?expand=items"' in code
    assert "USERS = 520" in code  # 800 req/s × (0.5 s think + 0.15 s) = 520 users
    k6 = observer.get(f"/reviews/{world.review.id}/benchmarks/starter/k6-script.js")
    script = k6.get_data(as_text=True)
    assert k6.headers["Content-Disposition"] == 'attachment; filename="k6-script.js"'
    assert '"rate": 800' in script and '"p(95)<150"' in script and '"rate<=0.005"' in script
    assert '"path": "/orders/42?expand=items"' in script
    js = Path(app.instance_path) / "k6-script.mjs"
    js.write_text(script.replace("import http from 'k6/http';", "const http = {};")
                  .replace("import { check, sleep } from 'k6';", "const check = 0, sleep = 0;")
                  .replace("__ENV.BASE_URL", "undefined"))
    if subprocess.run(["node", "--version"], capture_output=True).returncode == 0:
        assert subprocess.run(["node", "--check", str(js)], capture_output=True).returncode == 0


def test_generated_locustfile_runs_and_its_output_uploads(app, world, tmp_path):
    if not tools.have("locust"):
        pytest.skip("needs locust in the virtualenv")
    constraints.add_constraint(world.users["owner"], world.review, kind="traffic_rps",
                               priority="must", target=40)
    benchmarks.save_plan(world.users["owner"], world.review, endpoints="GET /orders 2\nPOST /orders",
                         think_time_s="0.1", users="4", duration_s="30",
                         host="http://127.0.0.1:8000")
    client = login(app, world.users["member"])
    code = client.get(f"/reviews/{world.review.id}/benchmarks/starter/locustfile.py").data
    (tmp_path / "locustfile.py").write_bytes(code)
    with tools.Simulator() as sim:
        result = subprocess.run(
            [str(tools.LOCUST), "-f", "locustfile.py", "--headless", "-u", "4", "-r", "4",
             "-t", "3s", "-H", sim.url("fast"), "--csv", "run", "--loglevel", "WARNING"],
            cwd=tmp_path, env=tools._env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    files = [read(tmp_path / "run_stats.csv"), read(tmp_path / "run_stats_history.csv")]
    r = upload(client, world.review, world.review.candidates[0], *files)
    assert r.status_code == 201, r.get_data(as_text=True)[:2000]
    run = db.session.scalar(db.select(BenchmarkRun))
    names = {e["name"] for e in run.endpoints}
    assert {"GET /orders", "POST /orders"} <= names


# --- report and charts ----------------------------------------------------------------------

def test_report_view_prints_the_comparison_with_charts(app, world):
    add_targets(world.review, world.users["owner"])
    client = login(app, world.users["member"])
    upload(client, world.review, world.review.candidates[0], ("ab.txt", AB_TEXT.encode()))
    upload(client, world.review, world.review.candidates[1], ("summary.json", K6_TEXT.encode()))
    r = login(app, world.users["observer"]).get(f"/reviews/{world.review.id}/benchmarks/report")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert html.count("<svg") >= 3 and "Django" in html and "Flask" in html
    assert "different tools (ab, k6)" in html
    assert "Requests per second" in html and "Latency percentiles in ms" in html
    assert not re.search(r'(?:src|href)="https?://', html)


def test_demo_has_real_runs_for_every_candidate(app, runner):
    from app.services import demo
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    review = demo.demo_review()
    cmp = benchmarks.compare(review)
    assert all(row.run for row in cmp.rows)
    assert {row.run.tool for row in cmp.rows} == {"locust"}
    assert len(cmp.runs) == 6 and any(r.tool == "wrk" for r in cmp.runs)
    django = cmp.row_for(next(c.id for c in review.candidates if c.name == "Django"))
    assert [k.candidate.name for k in cmp.knockouts] == ["Django"]
    assert any(c.kind == "latency_p95_ms" and c.status == "fail" for c in django.checks)
    assert all(row.run.has_timeseries for row in cmp.rows)
