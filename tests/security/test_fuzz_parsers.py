"""Property-based attack on EVERY parser, called directly (not only through ``parse_run``).

tests/parsers/test_parse_fuzz.py damages seed files byte by byte and goes through
``parse_run``. This module goes further, per parser function of ``app.parsers.api.PARSERS``:

* arbitrary bytes, alone and behind a real prefix of the format (so the parser gets past its
  first checks and into the body);
* structure-aware mutations of real files of the format: JSON documents are parsed and random
  nodes replaced by hostile values (huge integers, NaN/Infinity, negative numbers, numeric
  text, wrong types, deep nesting), CSV cells/columns/rows are edited through the csv module,
  text reports get their numbers and units swapped, XML attributes and nesting are edited,
  Gatling's binary log gets extreme int32 values and cut records;

and asserts that ``ParseError`` (the parsers' one error type, with a message for people) is
the only exception that ever escapes. Everything is bounded: ``SECURITY_FUZZ_EXAMPLES``
(default 200 structured + 100 raw examples per parser), no deadline, no example database.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import random
import re
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.parsers import FORMATS, InputFile, ParseError, detect_format, parse_run
from app.parsers.api import PARSERS
from app.parsers.streams import ReadContext, Source
from tests.security.corpus import K6_HANDLE_SUMMARY, base

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent / "parsers" / "fixtures"
SAMPLES = HERE.parents[2] / "shared" / "samples"
EXAMPLES = int(os.environ.get("SECURITY_FUZZ_EXAMPLES", "200"))
STRUCTURED = settings(max_examples=EXAMPLES, deadline=None, database=None,
                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
RAW = settings(STRUCTURED, max_examples=max(EXAMPLES // 2, 10))
MAX_SEED_BYTES = 64 * 1024  # keep every example fast

# Values that break naive code: huge integers (float overflow, str->int digit limit),
# non-finite and negative figures, numbers as text, wrong types, empty and odd strings.
HOSTILE_SCALARS = [
    None, True, False, 0, -1, -0.0, 1, 2**31, 2**63, 10**30, -(10**30), 10**400,
    1e308, -1e308, 5e-324, 0.5, 1.5, float("nan"), float("inf"), float("-inf"),
    "", " ", "0", "-1", "1e999", "-1e999", "NaN", "nan", "Infinity", "N/A", "-", "1,5",
    "9" * 40, "9" * 5000, "abc", "\x00", "\ud7ff\ue000", "12ms", "1.5s", "2024-13-45T99:99:99Z",
    "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "<script>", "{}", "[]",
]
NUMBER_TOKENS = ["0", "-1", "-0", "1e309", "1e-309", "nan", "NaN", "inf", "-inf", "9" * 400,
                 "99999999999999999999", "1.5", ".", "", "1e", "0x10", "1_000", "١٢", "+5",
                 "12.34.56", "-9223372036854775809", "4294967296", "1e308", "1.7e308",
                 "1e300"]
UNITS = ["us", "µs", "ms", "s", "m", "h", "ns", "KB", "MB", "GB", "TB", "B", "%", "k", "M",
         "secs", "bogus", ""]


# --- seeds ---------------------------------------------------------------------------------

def _seeds() -> dict[str, list[list[tuple[str, bytes]]]]:
    """Real and hand-written files of every format, as runs (lists of (name, bytes))."""
    paths = sorted(FIXTURES.glob("handwritten_*"))
    if SAMPLES.is_dir():
        paths += sorted(p for p in SAMPLES.iterdir()
                        if p.suffix not in (".md", ".txt") or "output" in p.name)
    seeds: dict[str, list[list[tuple[str, bytes]]]] = {}
    locust_set: list[tuple[str, bytes]] = []
    for path in paths:
        data = path.read_bytes()[:MAX_SEED_BYTES]
        if path.stat().st_size > MAX_SEED_BYTES:  # cut at a line end so the seed stays valid
            data = data[: data.rfind(b"\n") + 1]
        try:
            fmt = detect_format([InputFile(path.name, io.BytesIO(data))])
        except ParseError:
            continue
        seeds.setdefault(fmt, []).append([(path.name, data)])
        if fmt == "locust-csv" and "handwritten" not in path.name:
            locust_set.append((path.name, data))
    if len(locust_set) > 1:  # the real stats + history + failures set of one run
        seeds["locust-csv"].append(locust_set)
    seeds.setdefault("k6-handle-summary", []).append(
        [("handle_summary.json", json.dumps(K6_HANDLE_SUMMARY, indent=2).encode())])
    seeds["wrk2"] = seeds.get("wrk2", []) + seeds.get("wrk", [])  # one parser serves both
    return seeds


SEEDS = _seeds()


def test_every_parser_has_a_seed():
    assert set(SEEDS) >= set(FORMATS) and set(FORMATS) == set(PARSERS)


# --- the property --------------------------------------------------------------------------

def only_parse_error(fmt: str, files: list[tuple[str, bytes]]) -> None:
    """Run the parser of ``fmt`` directly, then parse_run forced and detected: ParseError
    (with a message) is the only acceptable failure."""
    ctx = ReadContext(None, 256 * 1024 * 1024)
    sources = [Source(InputFile(name, io.BytesIO(data)), ctx) for name, data in files]
    for attempt in (lambda: PARSERS[fmt](sources),
                    lambda: parse_run([InputFile(n, io.BytesIO(d)) for n, d in files], fmt),
                    lambda: parse_run([InputFile(n, io.BytesIO(d)) for n, d in files])):
        try:
            run = attempt()
        except ParseError as exc:
            assert isinstance(exc.message, str) and exc.message.strip()
        else:  # what parses must be storable: JSON without NaN/Infinity
            json.dumps(run.to_dict(), allow_nan=False)
        # anything else propagates and fails the test, with hypothesis' shrunk example


# --- structure-aware mutations -------------------------------------------------------------

def _hostile_json():
    scalars = st.sampled_from(HOSTILE_SCALARS) | st.integers() | st.floats() | st.text(max_size=20)
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=12)


def _nodes(tree, path=()):
    yield path, tree
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _nodes(value, (*path, key))
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            yield from _nodes(value, (*path, i))


def _replace(tree, path, value):
    if not path:
        return value
    parent = tree
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    return tree


def mutate_json_tree(draw, tree):
    """A few random edits of a parsed JSON document."""
    for _ in range(draw(st.integers(1, 4))):
        nodes = list(_nodes(tree))
        path, node = nodes[draw(st.integers(0, len(nodes) - 1))]
        edit = draw(st.sampled_from(["replace", "replace", "delete", "wrap", "empty", "deep"]))
        if edit == "replace":
            tree = _replace(tree, path, draw(_hostile_json()))
        elif edit == "delete" and path:
            parent = tree
            for step in path[:-1]:
                parent = parent[step]
            del parent[path[-1]]
        elif edit == "wrap":
            tree = _replace(tree, path, [node])
        elif edit == "empty":
            tree = _replace(tree, path, type(node)() if isinstance(node, dict | list) else {})
        elif edit == "deep":  # expanded to text by _dump (json.dumps itself would recurse)
            depth = draw(st.sampled_from([50, 900, 3000, 100_000]))
            tree = _replace(tree, path, f"{DEEP}{depth}:{draw(st.sampled_from('[{'))}")
    return tree


DEEP = "\u2063deep:"
_DEEP_TOKEN = re.compile(r'"\\u2063deep:(\d+):([\[{])"')


def _deep(match: re.Match) -> str:
    depth = int(match.group(1))
    if match.group(2) == "[":
        return "[" * depth + "1" + "]" * depth
    return '{"x":' * depth + "1" + "}" * depth


def _dump(tree) -> str:
    """JSON text with NaN/Infinity tokens on purpose and the "deep" edits expanded."""
    return _DEEP_TOKEN.sub(_deep, json.dumps(tree, allow_nan=True))


_JSON_SPAN = re.compile(rb"[\[{]")


def _json_span(data: bytes) -> tuple[int, int] | None:
    """Where the JSON document inside a file is (bombardier's text, Locust's HTML report)."""
    if b"window.templateArgs" in data:
        start = data.index(b"window.templateArgs")
        start = data.index(b"{", start)
    else:
        match = _JSON_SPAN.search(data)
        if match is None:
            return None
        start = match.start()
    decoder = json.JSONDecoder()
    try:
        _, end = decoder.raw_decode(data[start:].decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    return start, start + len(data[start:].decode("utf-8")[:end].encode("utf-8"))


def mutate_json_file(draw, data: bytes) -> bytes:
    span = _json_span(data)
    if span is None:
        return mutate_text(draw, data)
    start, end = span
    tree = json.loads(data[start:end])
    return data[:start] + _dump(mutate_json_tree(draw, tree)).encode() + data[end:]


def mutate_ndjson(draw, data: bytes) -> bytes:
    lines = data.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        edit = draw(st.sampled_from(["tree", "tree", "tree", "drop", "repeat", "cut"]))
        if edit == "tree":
            try:
                tree = json.loads(lines[i])
            except (ValueError, RecursionError):  # a line an earlier edit made deep or broke
                continue
            lines[i] = (_dump(mutate_json_tree(draw, tree)) + "\n").encode()
        elif edit == "drop":
            del lines[i]
        elif edit == "repeat":
            lines.insert(i, lines[i])
        else:
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
    return b"".join(lines)


CELL_TOKENS = [*NUMBER_TOKENS, "true", "false", "TRUE", "", " ", '"', "a,b", "line\nbreak",
               "\x00", "200", "500", "KO", "OK", "GET", "Aggregated", "1601209013719",
               "2024-08-05T15:24:38.95+07:00", "http_reqs", "http_req_duration", "NaN%"]


def mutate_csv(draw, data: bytes, delimiter: str = ",") -> bytes:
    try:
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=delimiter))
    except (UnicodeDecodeError, csv.Error):
        return mutate_text(draw, data)
    if not rows:
        return data
    for _ in range(draw(st.integers(1, 5))):
        r = draw(st.integers(0, len(rows) - 1))
        row = rows[r]
        edit = draw(st.sampled_from(["cell", "cell", "cell", "drop-cell", "add-cell",
                                     "drop-row", "dup-row", "swap-header"]))
        if edit == "cell" and row:
            row[draw(st.integers(0, len(row) - 1))] = draw(
                st.sampled_from(CELL_TOKENS) | st.text(max_size=12))
        elif edit == "drop-cell" and row:
            del row[draw(st.integers(0, len(row) - 1))]
        elif edit == "add-cell":
            row.insert(draw(st.integers(0, len(row))), draw(st.sampled_from(CELL_TOKENS)))
        elif edit == "drop-row" and len(rows) > 1:
            del rows[r]
        elif edit == "dup-row":
            rows.insert(r, list(row))
        elif edit == "swap-header" and len(rows[0]) > 1:
            i, j = draw(st.integers(0, len(rows[0]) - 1)), draw(st.integers(0, len(rows[0]) - 1))
            rows[0][i], rows[0][j] = rows[0][j], rows[0][i]
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


_TOKEN = re.compile(r"(\d+(?:\.\d+)?)([a-zA-Zµ%]*)")


def mutate_text(draw, data: bytes) -> bytes:
    """Swap numbers and units of a text report, drop or repeat lines."""
    text = data.decode("utf-8", "replace")
    matches = list(_TOKEN.finditer(text))
    pieces = []
    chosen = set(draw(st.lists(st.integers(0, max(len(matches) - 1, 0)), max_size=6)))
    last = 0
    for i, m in enumerate(matches):
        if i not in chosen:
            continue
        number, unit = m.group(1), m.group(2)
        if draw(st.booleans()):
            number = draw(st.sampled_from(NUMBER_TOKENS))
        if draw(st.booleans()):
            unit = draw(st.sampled_from(UNITS))
        pieces += [text[last:m.start()], number + unit]
        last = m.end()
    pieces.append(text[last:])
    lines = "".join(pieces).splitlines(keepends=True)
    for _ in range(draw(st.integers(0, 3))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        edit = draw(st.sampled_from(["drop", "repeat", "cut", "tabs"]))
        if edit == "drop":
            del lines[i]
        elif edit == "repeat":
            lines.insert(i, lines[i])
        elif edit == "cut":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        else:
            lines[i] = lines[i].replace(" ", "\t")
    return "".join(lines).encode()


_ATTRIBUTE = re.compile(rb'(\w+)="([^"]*)"')


def mutate_xml(draw, data: bytes) -> bytes:
    matches = list(_ATTRIBUTE.finditer(data))
    out, last = [], 0
    chosen = set(draw(st.lists(st.integers(0, max(len(matches) - 1, 0)), max_size=6)))
    for i, m in enumerate(matches):
        if i in chosen:
            value = draw(st.sampled_from(CELL_TOKENS)).replace('"', "&quot;").replace("<", "&lt;")
            out += [data[last:m.start()], m.group(1) + b'="' + value.encode() + b'"']
            last = m.end()
    out.append(data[last:])
    data = b"".join(out)
    edit = draw(st.sampled_from(["none", "cut", "nest", "entity", "no-close"]))
    if edit == "cut":
        data = data[: draw(st.integers(0, len(data)))]
    elif edit == "nest":
        depth = draw(st.sampled_from([10, 1000, 20000]))
        where = data.find(b"<httpSample")
        where = where if where >= 0 else len(data) // 2
        data = data[:where] + b'<sample t="1" lb="x" s="true">' * depth + data[where:]
    elif edit == "entity":
        data = data.replace(b'lb="', b'lb="&lol;', 1)
    elif edit == "no-close":
        data = data.replace(b"</testResults>", b"")
    return data


EXTREME_INT32 = [0, -1, 1, 2**31 - 1, -(2**31), 0x7FFF, 255, 10**6]


def mutate_binary(draw, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 5))):
        if len(buf) < 5:
            break
        where = draw(st.integers(0, len(buf) - 4))
        edit = draw(st.sampled_from(["int32", "int32", "byte", "cut", "repeat"]))
        if edit == "int32":
            buf[where:where + 4] = struct.pack(">i", draw(st.sampled_from(EXTREME_INT32)))
        elif edit == "byte":
            buf[where] = draw(st.integers(0, 255))
        elif edit == "cut":
            del buf[where:]
        else:
            buf[where:where] = buf[where:where + draw(st.integers(1, 40))]
    return bytes(buf)


JSON_FORMATS = {"k6-summary-export", "k6-handle-summary", "k6-summary-v1", "locust-json",
                "locust-html", "jmeter-dashboard", "gatling-json", "vegeta-json", "oha-json",
                "bombardier-json"}
CSV_FORMATS = {"locust-csv", "k6-csv", "jmeter-csv", "hey-csv"}
TEXT_FORMATS = {"wrk", "wrk2", "ab", "hey", "vegeta-text"}
MUTATORS = {
    **dict.fromkeys(JSON_FORMATS, mutate_json_file),
    **dict.fromkeys(CSV_FORMATS, mutate_csv),
    **dict.fromkeys(TEXT_FORMATS, mutate_text),
    "k6-ndjson": mutate_ndjson,
    "jmeter-xml": mutate_xml,
    "gatling-log": lambda draw, data: mutate_csv(draw, data, "\t"),
    "gatling-binary-log": mutate_binary,
}


def test_every_parser_has_a_structured_mutator():
    assert set(MUTATORS) == set(FORMATS)


@st.composite
def structured(draw, fmt: str) -> list[tuple[str, bytes]]:
    run = draw(st.sampled_from(SEEDS[fmt]))
    files = [(name, MUTATORS[fmt](draw, data)) for name, data in run]
    if draw(st.integers(0, 9)) == 0:
        files = [(name + ".gz", gzip.compress(data)) for name, data in files]
    return files


@st.composite
def raw_bytes(draw, fmt: str) -> list[tuple[str, bytes]]:
    """Arbitrary bytes, often behind a real prefix of the format."""
    tail = draw(st.binary(max_size=2048) | st.text(max_size=1024).map(str.encode))
    if draw(st.booleans()):
        seed = draw(st.sampled_from(SEEDS[fmt]))[0][1]
        tail = seed[: draw(st.integers(0, min(len(seed), 4096)))] + tail
    return [("fuzz.bin", tail)]


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@STRUCTURED
@given(data=st.data())
def test_structured_mutations_only_raise_parse_error(fmt, data):
    only_parse_error(fmt, data.draw(structured(fmt)))


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@RAW
@given(data=st.data())
def test_arbitrary_bytes_only_raise_parse_error(fmt, data):
    only_parse_error(fmt, data.draw(raw_bytes(fmt)))


# --- regressions found by this module (kept as plain examples so they always run) -----------

def _seed(fmt: str) -> bytes:
    return SEEDS[fmt][0][0][1]


def _json_regressions() -> list[tuple[str, bytes]]:
    k6 = json.loads(_seed("k6-summary-export"))
    cases = []
    for label, literal in (("400-digit integer", "9" * 400), ("5000-digit integer", "9" * 5000),
                           ("1e400", "1e400"), ("-0", "-0")):
        doc = json.dumps(k6).replace('"count": ', f'"count": {literal}, "was": ', 1)
        cases.append((label, doc.encode()))
    return cases


@pytest.mark.parametrize(("label", "data"), _json_regressions(), ids=lambda v: str(v)[:20])
def test_hostile_json_numbers(label, data):
    only_parse_error("k6-summary-export", [("summary.json", data)])


HUGE = "9" * 400
REGRESSIONS = [  # (format, where the figure is, what it became): crashes this module found
    ("wrk", r"connect (?P<v>\d+)", HUGE),  # OverflowError in the error rate
    ("wrk", r"Latency\s+(?P<v>[\d.]+ms)", HUGE + "s"),  # inf latency
    ("hey", r"\[200\]\t(?P<v>\d+)", "9" * 5000),  # int() beyond the 4300-digit limit
    ("hey", r"Slowest:\t(?P<v>[\d.]+)", "1e308"),  # inf once in milliseconds
    ("hey-csv", r"\n(?P<v>0\.0100),", "1e308"),  # inf into the histogram (ValueError)
    ("oha-json", r'"slowest":(?P<v>[\d.]+)', "1e308"),  # inf once in milliseconds
    ("vegeta-text", r"Latencies.*?\]\s+(?P<v>[\d.]+µs)", HUGE + "ms"),  # inf duration
    ("vegeta-text", r"200:(?P<v>\d+)", "9" * 5000),
    ("k6-ndjson", r'"value":(?P<v>25\.5)', HUGE),  # OverflowError in float()
    ("k6-csv", r"\nhttp_reqs,(?P<v>\d+),", "9" * 5000),  # a timestamp beyond int()'s limit
    ("bombardier-json", r'"req2xx":(?P<v>\d+)', "9" * 5000),  # ValueError in raw_decode
    ("jmeter-dashboard", r'"sampleCount" : (?P<v>\d+)', HUGE),
]


@pytest.mark.parametrize(("fmt", "where", "value"), REGRESSIONS,
                         ids=[f"{f}-{v[:6]}" for f, _, v in REGRESSIONS])
def test_regressions_found_by_fuzzing_are_clear_parse_errors(fmt, where, value):
    name, data = base(fmt)
    text = data.decode("utf-8")
    match = re.search(where, text, re.S)
    assert match, where
    broken = (text[: match.start("v")] + value + text[match.end("v"):]).encode()
    with pytest.raises(ParseError) as refused:
        parse_run([InputFile(name, io.BytesIO(broken))])
    assert refused.value.message.strip()
    only_parse_error(fmt, [(name, broken)])


@pytest.mark.parametrize("fmt", sorted(JSON_FORMATS))
def test_every_hostile_scalar_in_every_json_slot(fmt):
    """Deterministic sweep: each top-level-reachable value of a JSON seed replaced in turn by
    each hostile scalar (the fuzzer samples this space; this walks part of it fully)."""
    name, data = SEEDS[fmt][0][0]
    span = _json_span(data)
    assert span is not None
    start, end = span
    tree = json.loads(data[start:end])
    paths = [path for path, _ in _nodes(tree)][:60]
    rng = random.Random(fmt)
    for path in paths:
        for value in rng.sample(HOSTILE_SCALARS, 8):
            mutated = _replace(json.loads(data[start:end]), path, value)
            doc = data[:start] + _dump(mutated).encode() + data[end:]
            only_parse_error(fmt, [(name, doc)])
