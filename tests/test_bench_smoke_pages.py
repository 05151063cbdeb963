"""Small versions of benchmarks 3, 4 and 6 (bench/pages.py, bench/uploads.py, bench/dogfood.py):
the same code the benchmark runs, on small inputs. Correctness only, never timing thresholds."""

from __future__ import annotations

import shutil

import pytest

from bench import dogfood, pages, uploads
from bench.seed import Size

SMALL = Size(members=2, candidates=3, criteria=3, runs=2, notes=2)


def test_page_statement_counts_do_not_grow_with_the_world():
    """Every step page, htmx fragment and live region issues the same number of SQL statements
    (at most 15) when members, candidates, runs and notes double: no N+1."""
    small, doubled = pages.count_world(SMALL), pages.count_world(SMALL.doubled())
    assert [m.page.label for m in small] == [m.page.label for m in doubled]
    kinds = {m.page.kind for m in small}
    assert kinds == {"page", "fragment", "region"}
    for a, b in zip(small, doubled, strict=True):
        assert (a.status, b.status) == (200, 200), a.page
        assert a.statements == b.statements, (a.page.label, a.sql, b.sql)
        assert a.statements <= pages.MAX_STATEMENTS, (a.page.label, a.sql)
        # Served from the page cache: the login, the review with the viewer's role, and (a whole
        # page) the unread count; no more than rendering, and the same whatever the world's size.
        assert a.cached_statements == b.cached_statements <= min(3, a.statements), a.page.label
        assert a.bytes > 0
    by_label = {m.page.label: m for m in small}
    for step in ("constraints", "mapping", "prototypes", "benchmarks", "vote"):  # a fragment is part of its page
        assert by_label[f"{step} fragment"].bytes < by_label[f"{step} page"].bytes
    assert pages.statement_lines(small, doubled)[2].endswith("| yes |")


@pytest.mark.parametrize("fmt", uploads.FORMATS)
def test_generated_upload_parses_through_the_benchmark(tmp_path, fmt):
    """~1 MB of each generated format, parsed in a subprocess by the benchmark's own code."""
    paths = uploads.WRITERS[fmt](tmp_path, 1)
    row = uploads.measure(fmt, paths)
    assert set(row) >= {"format", "engine", "size_mb", "seconds", "cpu_seconds", "mb_per_s", "mb_per_cpu_s",
                        "rss_growth_mb", "requests", "p95_ms", "points", "endpoints"}
    assert (row["format"], row["engine"]) == (fmt, "tradeoff")
    assert 0.9 <= row["size_mb"] <= 1.2
    assert row["requests"] > 0 and row["p95_ms"] > 0 and row["points"] > 0 and row["endpoints"] >= 5
    assert row["mb_per_s"] > 0 and row["rss_growth_mb"] >= 0


def test_generated_jtl_pandas_anchor(tmp_path):
    if not uploads.pandas_available():
        pytest.skip("pandas is not installed (the bench extra: pip install -e '.[bench]'; make bench does)")
    paths = uploads.WRITERS["jmeter-csv"](tmp_path, 1)
    ours, theirs = uploads.measure("jmeter-csv", paths), uploads.measure("jmeter-csv", paths, engine="pandas")
    assert theirs["engine"] == "pandas" and theirs["size_mb"] == ours["size_mb"]
    assert theirs["requests"] > ours["requests"]  # pandas counts sub-result rows too
    assert theirs["p95_ms"] > 0 and theirs["mb_per_s"] > 0


@pytest.mark.slow
def test_locust_dogfood_run_imports_as_a_benchmark_run(tmp_path):
    """Locust loads a live gunicorn for a few seconds; its CSV files upload as a run of Flask."""
    if not shutil.which("gunicorn", path=str(dogfood.BIN)) or not shutil.which("locust", path=str(dogfood.BIN)):
        pytest.skip("gunicorn and locust come with the test extra")
    result = dogfood.dogfood(seconds=4, users=2, keep=tmp_path, size="2,3,3,1,1")
    assert [f.name for f in result.files] == [f"tradeoff_{k}.csv" for k in dogfood.LOCUST_FILES]
    assert result.upload_status == 201, result.upload_message
    assert "Dogfood: Locust 2 users, 4 s" in result.upload_message and "locust" in result.upload_message
    assert "Dogfood: Locust 2 users, 4 s" in result.runs_page  # listed with the review's runs
    figures = result.figures
    assert figures["format"] == "locust-csv" and figures["requests"] > 0
    assert "/login [POST]" in figures["endpoints"]
