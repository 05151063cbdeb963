"""The malformed-file corpus (tests/security/corpus.py) against the real upload routes.

Light cases (about 200, every format) go through the in-process app, by the page's upload
form (htmx) and by the JSON API: each must get 422 with a message that says what is wrong,
within seconds, and leave nothing behind (no run, file or upload row, no blob, nothing in the
upload folder's tmp/).

Heavy cases (100 MB single lines, a 1 GiB gzip bomb, 10^6 columns, JSON and XML memory
bombs, long raw-sample files broken at the end) are streamed to gunicorn on 127.0.0.1, again
by both routes: each gets a 4xx, the same worker process stays up and answers /healthz, its
peak resident memory (VmHWM in /proc) stays within a fixed bound far below the uploads'
sizes, and nothing is stored.
"""

from __future__ import annotations

import html
import io
import json
import time

import pytest

from app.models import BenchmarkFile, BenchmarkRun, BenchmarkUpload
from app.parsers import FORMATS, InputFile, parse_run
from tests.security import corpus
from tests.security.upload_server import Multipart, post_stream, start
from tests.test_api import assert_error, bearer, post_run
from tests.test_benchmarks import AB_TEXT, count, login, stored_blobs, upload

LIGHT = corpus.light_cases()
HEAVY = corpus.heavy_cases()
FAMILIES = sorted({case.id.split("-")[0] for case in LIGHT})
SECONDS_PER_REQUEST = 30  # generous for a busy machine; the regex traps took hours before
MEMORY_BOUND_MIB = 160  # growth of the worker's peak RSS over all heavy cases (~70 seen)


def test_the_corpus_covers_every_format_with_many_cases():
    assert len(LIGHT) + len(HEAVY) >= 60
    for prefix in ("truncated", "forced"):
        covered = {c.id.removeprefix(prefix + "-").split("-got-")[0] for c in LIGHT
                   if c.id.startswith(prefix + "-")}
        assert covered == set(FORMATS), prefix
    figures = {c.id.split("-", 1)[1] for c in LIGHT
               if c.id.split("-", 1)[0] in ("nan", "negative", "absurd", "implausible")}
    assert figures >= set(FORMATS) - {"gatling-binary-log"}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_each_base_file_is_a_valid_run_of_its_format(fmt):
    """The mutations are what makes the corpus bad: unmutated, every base file parses."""
    name, data = corpus.base(fmt)
    run = parse_run([InputFile(name, io.BytesIO(data))])
    assert run.format == fmt or {run.format, fmt} == {"wrk", "wrk2"}
    assert run.summary.requests


def nothing_stored(app) -> bool:
    return (count(BenchmarkRun) == 0 and count(BenchmarkFile) == 0
            and count(BenchmarkUpload) == 0 and stored_blobs(app) == [])


def _check_page(app, client, world, case) -> list[str]:
    started = time.monotonic()
    r = upload(client, world.review, world.review.candidates[0], (case.name, case.content()),
               tool=case.tool)
    took = time.monotonic() - started
    text = html.unescape(r.get_data(as_text=True))
    problems = []
    if r.status_code != 422:
        problems.append(f"page answered {r.status_code}")
    elif 'class="error"' not in r.get_data(as_text=True) or case.expect not in text:
        problems.append(f"page message lacks {case.expect!r}: {text[text.find('error'):][:300]}")
    if took > SECONDS_PER_REQUEST:
        problems.append(f"page took {took:.0f} s")
    if not nothing_stored(app):
        problems.append("page upload left something stored")
    return problems


def _check_api(app, token, world, case) -> list[str]:
    started = time.monotonic()
    r = post_run(app.test_client(), token, world.review.id, "Django", (case.name, case.content()),
                 **({"tool": case.tool} if case.tool else {}))
    took = time.monotonic() - started
    problems = []
    try:
        message = assert_error(r, 422, "unreadable_file")
    except AssertionError as err:
        return [f"API: {err}"]
    if case.expect not in message:
        problems.append(f"API message lacks {case.expect!r}: {message[:300]}")
    if took > SECONDS_PER_REQUEST:
        problems.append(f"API took {took:.0f} s")
    if not nothing_stored(app):
        problems.append("API upload left something stored")
    return problems


@pytest.mark.parametrize("family", FAMILIES)
def test_light_corpus_gets_a_clear_422_and_stores_nothing(app, world, family):
    app.config["BENCHMARK_MAX_DECOMPRESSED_BYTES"] = 4 * corpus.MIB  # the small gzip bomb
    client = login(app, world.users["member"])
    token = bearer(world.users["member"])
    failures = {}
    cases = [c for c in LIGHT if c.id.split("-")[0] == family]
    for case in cases:
        problems = _check_page(app, client, world, case) + _check_api(app, token, world, case)
        if problems:
            failures[case.id] = problems
    assert not failures, failures
    # The control: the same routes accept a good file, so the refusals are about the files.
    ok = upload(client, world.review, world.review.candidates[0], ("ab.txt", AB_TEXT.encode()))
    assert ok.status_code == 201


# --- heavy cases against gunicorn ------------------------------------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = start(tmp_path_factory.mktemp("corpus"), BENCHMARK_MAX_UPLOAD_MB="160",
                 BENCHMARK_SYNC_LIMIT_MB="1024",  # page uploads are parsed in the request too
                 BENCHMARK_MAX_DECOMPRESSED_MB="96")  # the 1 GiB bomb stops here
    try:
        # Warm up every code path once with a good file by both routes (imports, caches,
        # rendering), then take the worker's memory and what is stored as the baseline.
        good = AB_TEXT.encode()
        for route in ("page", "api"):
            status, body = send(live, route, "ab.txt", lambda: iter([good]), len(good))
            assert status == 201, body[:500]
        live.baseline = {"pid": live.worker_pid(), "memory": live.worker_memory_kib(),
                         "blobs": live.blobs(), "runs": live.rows("benchmark_runs"),
                         "files": live.rows("benchmark_files")}
        yield live
    finally:
        live.stop()


def send(live, route: str, name: str, make, size: int, tool: str = "") -> tuple[int, str]:
    if route == "api":
        fields = [("candidate", str(live.candidate))] + ([("tool", tool)] if tool else [])
        body = Multipart(fields, [("file", name, make, size)])
        return post_stream(live, f"/api/v1/reviews/{live.review}/benchmarks", body,
                           live.api_headers())
    session, csrf = live.page_session()
    cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
    fields = [("upload-candidate", str(live.candidate)), ("upload-tool", tool)]
    body = Multipart(fields, [("upload-files", name, make, size)])
    return post_stream(live, f"/reviews/{live.review}/benchmarks", body,
                       {"Cookie": cookie, "X-CSRFToken": csrf, "HX-Request": "true"})


@pytest.mark.slow
@pytest.mark.parametrize("case", HEAVY, ids=[c.id for c in HEAVY])
@pytest.mark.parametrize("route", ["api", "page"])
def test_heavy_case_is_refused_by_a_live_worker_in_bounded_memory(server, case, route):
    status, body = send(server, route, case.name, case.make, case.size, case.tool)
    assert status == 422, (status, body[:800])
    message = json.loads(body)["error"]["message"] if route == "api" else html.unescape(body)
    assert case.expect in message, message[:1500]
    # The same worker is alive and answers; nothing of the upload is kept.
    assert server.healthy()
    assert server.worker_pid() == server.baseline["pid"]
    assert server.blobs() == server.baseline["blobs"]
    assert server.rows("benchmark_runs") == server.baseline["runs"]
    assert server.rows("benchmark_files") == server.baseline["files"]
    assert server.rows("benchmark_uploads") == 0
    # Peak resident memory since the worker started, against the peak after the warm-up.
    peak = server.worker_memory_kib()["VmHWM"]
    grown_mib = (peak - server.baseline["memory"]["VmHWM"]) / 1024
    assert grown_mib < MEMORY_BOUND_MIB, (
        f"worker peak RSS grew by {grown_mib:.0f} MiB on a {case.size / corpus.MIB:.0f} MiB upload")
