"""Attacks on the upload routes (page and API v1) and on the file downloads.

* a body one byte over MAX_CONTENT_LENGTH is answered 413 before any of it is read — shown
  in-process with a request body that counts what is read from it, and against gunicorn with
  a raw socket that sends only the headers (a control request that announces one byte less
  gets no answer until its body comes: the early answer is about the size, nothing else);
* more multipart parts than MAX_FORM_PARTS → 413 with its own message (the largest real
  form still passes);
* a file that claims to be .csv/.json but is a ZIP, an ELF program, a PDF … (magic bytes) is
  refused with a 4xx that names what it is, before it is written;
* path-traversal, NUL, bidi and very long file names are stored under server-made names
  (content addresses) and nothing is written outside the upload folder; the names people see
  carry no directory part;
* every download (original files, exports, starter scripts) is an attachment with nosniff and
  a safe file name.
"""

from __future__ import annotations

import io
import re
import socket
import sqlite3
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
import requests

from app.extensions import db
from app.models import BenchmarkFile, BenchmarkRun
from tests.security.upload_server import Multipart, start
from tests.test_api import assert_error, bearer, post_run
from tests.test_benchmarks import AB_TEXT, HX, LOCUST_HEADER, count, login, stored_blobs, upload
from tests.test_decisions import signed_review

LIMIT = 64 * 1024
MIB = 1024 * 1024


# --- 413 before the body is read ---------------------------------------------------------------

class CountingBody(io.BytesIO):
    """A request body (wsgi.input) that records how many bytes the app read from it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.consumed = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.consumed += len(data)
        return data

    def read1(self, size: int = -1) -> bytes:
        data = super().read1(size)
        self.consumed += len(data)
        return data

    def readline(self, size: int | None = -1) -> bytes:
        data = super().readline(size)
        self.consumed += len(data)
        return data

    def readinto(self, buffer) -> int:
        n = super().readinto(buffer)
        self.consumed += n
        return n


def multipart_of_size(total: int, fields: dict[str, str], file_field: str) -> tuple[bytes, str]:
    """A well-formed multipart body of exactly ``total`` bytes: the fields and one file of
    padding (``x`` bytes) sized to fit."""
    def build(pad: int) -> Multipart:
        return Multipart(fields.items(), [(file_field, "padding.txt",
                                           lambda: [b"x" * pad], pad)])

    overhead = len(build(0))
    body = build(total - overhead)
    data = b"".join(body)
    assert len(data) == total
    return data, body.content_type


def routes(app, world):
    """(label, url, headers, form fields, file field) of both upload routes."""
    review = world.review
    return {
        "page": (f"/reviews/{review.id}/benchmarks", HX,
                 {"upload-candidate": str(review.candidates[0].id)}, "upload-files"),
        "api": (f"/api/v1/reviews/{review.id}/benchmarks", bearer(world.users["member"]),
                {"candidate": str(review.candidates[0].id)}, "file"),
    }


@pytest.mark.parametrize("route", ["page", "api"])
def test_one_byte_over_the_limit_is_413_before_the_body_is_read(app, world, route):
    app.config["MAX_CONTENT_LENGTH"] = LIMIT
    url, headers, fields, file_field = routes(app, world)[route]
    client = login(app, world.users["member"])

    # Exactly at the limit: accepted for reading — the whole body is read and the file is
    # judged on its content (padding is not a benchmark run: 422, not 413).
    data, content_type = multipart_of_size(LIMIT, fields, file_field)
    body = CountingBody(data)
    r = client.post(url, input_stream=body, content_type=content_type, headers=headers)
    assert r.status_code == 422, r.get_data(as_text=True)[:500]
    assert body.consumed == LIMIT

    # One byte more: 413 with a message, and not one byte of the body was read.
    data, content_type = multipart_of_size(LIMIT + 1, fields, file_field)
    body = CountingBody(data)
    r = client.post(url, input_stream=body, content_type=content_type, headers=headers)
    assert r.status_code == 413
    assert body.consumed == 0
    if route == "api":
        assert "larger than" in assert_error(r, 413, "too_large")
    else:
        assert "larger than" in r.get_data(as_text=True)
    assert count(BenchmarkRun) == 0 and stored_blobs(app) == []


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = start(tmp_path_factory.mktemp("uploads-413"), BENCHMARK_MAX_UPLOAD_MB="2")
    try:
        yield live
    finally:
        live.stop()


def raw_headers_only(server, path: str, length: int, extra: dict[str, str],
                     wait: float) -> bytes:
    """Send only the request head (no body byte) on a raw socket; what came back in ``wait``."""
    head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}",
            "Content-Type: multipart/form-data; boundary=xyz", f"Content-Length: {length}",
            *(f"{k}: {v}" for k, v in extra.items()), "", ""]
    with socket.create_connection(("127.0.0.1", server.port), timeout=wait) as sock:
        sock.sendall("\r\n".join(head).encode())
        received = b""
        try:
            while b"\r\n\r\n" not in received or len(received) < 12:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += chunk
            if b"\r\n\r\n" in received:  # also read the (short) answer body if it is there
                sock.settimeout(2)
                received += sock.recv(65536)
        except TimeoutError:
            pass
    return received


@pytest.mark.parametrize("route", ["api", "page"])
def test_gunicorn_answers_413_to_the_headers_alone(server, route):
    limit = 2 * MIB
    if route == "api":
        path, extra = f"/api/v1/reviews/{server.review}/benchmarks", server.api_headers()
    else:
        session, csrf = server.page_session()
        cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
        path = f"/reviews/{server.review}/benchmarks"
        extra = {"Cookie": cookie, "X-CSRFToken": csrf, "HX-Request": "true"}
    answer = raw_headers_only(server, path, limit + 1, extra, wait=60)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b"larger than 2 MB" in answer
    # The control: the same request announcing exactly the limit is not answered while its
    # body is missing — the server waits to read it. So the 413 above came before reading.
    assert raw_headers_only(server, path, limit, extra, wait=3) == b""
    assert server.healthy()
    assert server.rows("benchmark_runs") == 0 and server.blobs() == []


# --- too many multipart parts ------------------------------------------------------------------

def test_max_form_parts_is_configured_and_small(app):
    assert 17 <= app.config["MAX_FORM_PARTS"] <= 100  # 9 fields + 8 files fit; 1000s do not


@pytest.mark.parametrize("route", ["page", "api"])
def test_too_many_parts_is_413_with_its_own_message(app, world, route):
    url, headers, fields, file_field = routes(app, world)[route]
    parts = app.config["MAX_FORM_PARTS"] + 1
    body = Multipart([*fields.items(), *((f"f{i}", "x") for i in range(parts - 2))],
                     [(file_field, "ab.txt", lambda: [AB_TEXT.encode()], len(AB_TEXT.encode()))])
    data = b"".join(body)
    assert len(data) < 64 * 1024  # small: the limit that answers is the number of parts
    r = login(app, world.users["member"]).post(url, data=data, content_type=body.content_type,
                                               headers=headers)
    assert r.status_code == 413
    if route == "api":
        message = assert_error(r, 413, "too_many_parts")
    else:
        message = r.get_data(as_text=True)
    assert "too many parts" in message and "larger than" not in message
    assert count(BenchmarkRun) == 0 and stored_blobs(app) == []


def test_the_largest_real_form_is_not_refused_for_its_parts(app, world):
    """The page form with every field and eight files stays under the part limit."""
    stats = LOCUST_HEADER + ",Aggregated,10,0,5,5,1,9,10,2,0" + ",5" * 11 + "\n"
    files = [("run_stats.csv", stats.encode())] + [
        (f"extra{i}_failures.csv", b"Method,Name,Error,Occurrences\n") for i in range(7)]
    r = upload(login(app, world.users["member"]), world.review, world.review.candidates[0],
               *files, label="x", server="x", hardware="x", cpu_percent="1", memory_mb="1",
               notes="x", tool="")
    assert r.status_code != 413 and 200 <= r.status_code < 500


# --- magic bytes: not what the name says --------------------------------------------------------

def _zip_with_a_real_csv() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:  # stored: the CSV is readable
        archive.writestr("run_stats.csv", LOCUST_HEADER + ",Aggregated,1,0" + ",1" * 18 + "\n")
    return out.getvalue()


def _tar_with_a_csv() -> bytes:
    out = io.BytesIO()
    data = AB_TEXT.encode()
    with tarfile.open(fileobj=out, mode="w") as archive:
        info = tarfile.TarInfo("ab.txt")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _sqlite(tmp_path: Path) -> bytes:
    path = tmp_path / "x.db"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE t (x)")
    return path.read_bytes()


def disguised(tmp_path: Path) -> list[tuple[str, str, bytes, str]]:
    """(case, claimed name, content, what the message must call it)."""
    return [
        ("zip", "results.csv", _zip_with_a_real_csv(), "ZIP archive"),
        ("elf", "run_stats.csv", Path(sys.executable).resolve().read_bytes()[:200_000], "ELF"),
        ("exe", "summary.json", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + bytes(200), "Windows program"),
        ("pdf", "report.html", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n" + bytes(range(256)), "PDF"),
        ("tar", "ab.txt", _tar_with_a_csv(), "tar archive"),
        ("7z", "k6.json", b"7z\xbc\xaf\x27\x1c\x00\x04" + bytes(64), "compressed archive"),
        ("sqlite", "results.jtl", _sqlite(tmp_path), "SQLite"),
        ("png", "hey.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64), "image"),
    ]


@pytest.mark.parametrize("route", ["page", "api"])
def test_a_file_that_is_not_what_its_name_claims_is_refused_by_its_magic_bytes(
        app, world, tmp_path, route):
    client = login(app, world.users["member"])
    token = bearer(world.users["member"])
    for case, name, content, what in disguised(tmp_path):
        for tool in ("", "locust-csv"):  # also when the person forces a format
            if route == "page":
                r = upload(client, world.review, world.review.candidates[0], (name, content),
                           tool=tool)
                assert r.status_code == 422, (case, r.status_code)
                message = r.get_data(as_text=True)
            else:
                r = post_run(app.test_client(), token, world.review.id, "Django", (name, content),
                             **({"tool": tool} if tool else {}))
                message = assert_error(r, 422, "unreadable_file")
            assert what in message and name in message, (case, message[:2000])
            assert "not a load-test result" in message
            assert count(BenchmarkRun) == 0 and stored_blobs(app) == [], case


def test_refused_before_it_is_written(app, world, monkeypatch):
    """The refusal comes at the first chunk: the rest of the stream is never read."""
    from app.services import benchmarks

    class Endless(io.RawIOBase):
        reads = 0

        def readable(self):
            return True

        def readinto(self, buffer):
            Endless.reads += 1
            head = b"\x7fELF\x02\x01\x01" if Endless.reads == 1 else b"\x00"
            data = (head + bytes(len(buffer)))[: len(buffer)]
            buffer[: len(data)] = data
            return len(data)

    with pytest.raises(benchmarks.RejectedFile) as refused:
        benchmarks.ingest_run(world.users["member"], world.review, "Django",
                              [benchmarks.IncomingFile("stats.csv", Endless())],
                              benchmarks.RunDetails())
    assert "ELF" in refused.value.message and Endless.reads == 1
    assert stored_blobs(app) == []


# --- hostile file names -----------------------------------------------------------------------------

HOSTILE_NAMES = [  # as sent in the quoted multipart file name (a backslash is escaped there)
    b"../../etc/passwd",
    b"..\\\\..\\\\..\\\\x.csv",
    b"/etc/shadow",
    b"C:\\\\Windows\\\\win.ini",
    b"....//....//escape.txt",
    b"%2e%2e%2fencoded.txt",
    b"a\x00b.txt",
    b"\xe2\x80\xaeexe.txt",  # a right-to-left override disguises the extension
    b"..",
    b"a" * 5000 + b".txt",
    b"\x01\x1bcontrol.txt",
]
SAFE_NAME = re.compile(r"^[^/\\\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]{1,255}$")


def _tree(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def test_hostile_file_names_are_stored_under_server_made_names(app, world, tmp_path):
    client = login(app, world.users["member"])
    upload_root = Path(app.config["UPLOAD_FOLDER"])
    outside_before = _tree(tmp_path.parent) - _tree(upload_root)
    for i, name in enumerate(HOSTILE_NAMES):
        content = AB_TEXT.encode() + b"\n" * i  # a distinct blob per name
        body = Multipart([("upload-candidate", str(world.review.candidates[0].id))],
                         [("upload-files", name, lambda c=content: [c], len(content))])
        r = client.post(f"/reviews/{world.review.id}/benchmarks", data=b"".join(body),
                        content_type=body.content_type, headers=HX)
        assert r.status_code == 201, (name[:40], r.get_data(as_text=True)[:1500])

    # On disk: only content addresses under the upload folder, no leftovers in tmp/.
    blobs = stored_blobs(app)
    assert len(blobs) == len(HOSTILE_NAMES)
    for blob in blobs:
        relative = blob.relative_to(upload_root).as_posix()
        assert re.fullmatch(r"[0-9a-f]{2}/[0-9a-f]{64}", relative), relative
        assert relative.startswith(blob.name[:2])
    # Nothing was written anywhere else (the traversal targets are relative to the folder).
    assert _tree(tmp_path.parent) - _tree(upload_root) == outside_before
    for target in ("etc/passwd", "x.csv", "escape.txt", "encoded.txt"):
        assert not (upload_root.parent.parent / target).exists()
        assert not (upload_root.parent / target).exists()

    # In the database and on the pages: a display name without any directory part.
    files = db.session.scalars(db.select(BenchmarkFile).order_by(BenchmarkFile.id)).all()
    names = [f.name for f in files]
    assert all(SAFE_NAME.match(n) for n in names), names
    assert names[0] == "passwd" and names[1] == "x.csv" and names[3] == "win.ini"
    assert names[6] == "ab.txt" and names[8] == "upload" and len(names[9]) == 255
    assert names[7] == "exe.txt"  # the override character is gone

    # Downloads: attachments with a safe single-line header and no path in the name.
    observer = login(app, world.users["observer"])
    for f in files:
        r = observer.get(f"/reviews/{world.review.id}/benchmarks/runs/{f.run_id}/files/{f.id}")
        assert r.status_code == 200
        assert_safe_attachment(r)


def assert_safe_attachment(r, expect_name: str | None = None) -> None:
    disposition = r.headers["Content-Disposition"]
    assert disposition.startswith("attachment"), disposition
    assert "\r" not in disposition and "\n" not in disposition
    filenames = re.findall(r"filename\*?=([^;]+)", disposition)
    assert filenames, disposition
    for value in filenames:
        decoded = requests.utils.unquote(value.strip().strip('"').removeprefix("UTF-8''"))
        assert "/" not in decoded and "\\" not in decoded and not decoded.startswith(".."), decoded
        assert not re.search(r"[\x00-\x1f\x7f]", decoded), decoded
        if expect_name:
            assert decoded == expect_name
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.mimetype != "text/html"


def test_every_download_is_a_safe_attachment(app, world):
    """Exports and starter scripts of a review whose title and names are hostile."""
    review = signed_review(world)
    review.title = '../../<script>alert(1)</script>"; filename=evil.html'
    db.session.commit()
    client = login(app, world.users["observer"])
    base = f"/reviews/{review.id}"
    expected = {
        f"{base}/mapping/export.csv": f"review-{review.id}-matrix.csv",
        f"{base}/mapping/export.md": f"review-{review.id}-matrix.md",
        f"{base}/record.md": f"decision-{review.id}.md",
        f"{base}/record.json": f"decision-{review.id}.json",
        f"{base}/benchmarks/starter/locustfile.py": "locustfile.py",
        f"{base}/benchmarks/starter/k6-script.js": "k6-script.js",
    }
    for url, name in expected.items():
        r = client.get(url)
        assert r.status_code == 200, url
        assert_safe_attachment(r, name)
        assert "no-store" in r.headers.get("Cache-Control", "")
