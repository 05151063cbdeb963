# ruff: noqa: E501  (the corpus is a table of literal file contents; wrapping hurts reading)
"""A corpus of bad uploads: each must give a ParseError whose message tells a person what
is wrong (and names the file), never any other exception."""

from __future__ import annotations

import gzip
import io
import json

import pytest

from app.parsers import FORMATS, InputFile, ParseError, parse_run

LOCUST_HEADER = (
    "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
    "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,95%,99%\r\n"
)
LOCUST_ROW = "GET,/,10,1,5,5.5,1.0,20.0,11.0,2.0,0.2,5,19,20\r\n"
LOCUST_TOTAL = ",Aggregated,10,1,5,5.5,1.0,20.0,11.0,2.0,0.2,5,19,20\r\n"
JTL_HEADER = "timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success\n"
K6_EXPORT = {
    "metrics": {
        "http_reqs": {"count": 10, "rate": 2.0},
        "http_req_duration": {
            "avg": 1.0,
            "min": 0.5,
            "med": 1.0,
            "max": 2.0,
            "p(90)": 1.5,
            "p(95)": 1.8,
        },
    },
    "root_group": {"name": "", "path": "", "id": "x", "groups": {}, "checks": {}},
}
K6_POINT = (
    '{"metric":"http_req_duration","type":"Point","data":{"time":"2024-08-05T15:24:38.95+07:00",'
    '"value":%s,"tags":{"method":"GET","name":"/","status":"200"}}}\n'
)
K6_REQS = '{"metric":"http_reqs","type":"Point","data":{"time":"2024-08-05T15:24:38.95+07:00","value":1,"tags":{}}}\n'
GATLING_RUN = "RUN\tdemo.Sim\tsim\t1648541259346\t \t3.7.6\n"


def _k6(**changes) -> bytes:
    data = json.loads(json.dumps(K6_EXPORT))
    data["metrics"].update(changes)
    return json.dumps(data).encode()


# (case id, [(file name, content)], forced format or None, fragment the message must contain)
CASES = [
    ("empty", [("empty.json", b"")], None, "is empty"),
    ("only-whitespace", [("blank.csv", b" \n\r\n\t")], None, "is empty"),
    ("empty-forced", [("empty.json", b"")], "k6-summary-export", "is empty"),
    ("truncated-json", [("summary.json", _k6()[:150])], None, "cut short"),
    ("binary-garbage", [("data.bin", bytes(range(256)) * 4)], None, "binary file or not UTF-8"),
    (
        "invalid-utf8",
        [("stats.csv", (LOCUST_HEADER + "GET,/caf\xe9").encode("latin-1"))],
        None,
        "not UTF-8",
    ),
    ("latin1-header", [("x.txt", b"\xff\xfeR\x00U\x00N\x00")], None, "binary file or not UTF-8"),
    (
        "wrong-tool-json",
        [("postman.json", b'{"info": {"name": "collection"}, "item": []}')],
        None,
        "not output of a supported",
    ),
    (
        "wrong-tool-text",
        [("notes.txt", b"Dear team,\nthe benchmark went fine.\n")],
        None,
        "not output of a supported",
    ),
    ("locust-header-only", [("s.csv", LOCUST_HEADER.encode())], None, "header but no rows"),
    (
        "locust-no-aggregated",
        [("s.csv", (LOCUST_HEADER + LOCUST_ROW).encode())],
        None,
        "Aggregated",
    ),
    (
        "locust-nan",
        [("s.csv", (LOCUST_HEADER + LOCUST_ROW.replace("10,1", "nan,1")).encode())],
        None,
        "Request Count",
    ),
    (
        "locust-negative",
        [("s.csv", (LOCUST_HEADER + LOCUST_TOTAL.replace("2.0,0.2", "-2.0,0.2")).encode())],
        None,
        ">= 0",
    ),
    (
        "locust-fraction-count",
        [("s.csv", (LOCUST_HEADER + LOCUST_TOTAL.replace("10,1", "10.5,1")).encode())],
        None,
        "whole number",
    ),
    (
        "locust-short-row",
        [("s.csv", (LOCUST_HEADER + "GET,/,10\r\n").encode())],
        None,
        "fields but the header has",
    ),
    (
        "locust-history-alone",
        [
            (
                "h.csv",
                b"Timestamp,User Count,Type,Name,Requests/s,Failures/s\r\n1,1,,Aggregated,0,0\r\n",
            )
        ],
        None,
        "_stats.csv is needed",
    ),
    (
        "locust-two-stats",
        [
            ("a.csv", (LOCUST_HEADER + LOCUST_TOTAL).encode()),
            ("b.csv", (LOCUST_HEADER + LOCUST_TOTAL).encode()),
        ],
        None,
        "both Locust stats files",
    ),
    ("locust-json-empty-list", [("l.json", b"[]")], "locust-json", "empty list"),
    (
        "locust-json-bad-shape",
        [("l.json", b'[{"name":"/","num_requests":1,"num_failures":0,"response_times":[]}]')],
        None,
        "must be a JSON object",
    ),
    ("k6-nan", [("k.json", _k6().replace(b'"avg": 1.0', b'"avg": NaN'))], None, "NaN"),
    ("k6-negative", [("k.json", _k6(http_reqs={"count": -3, "rate": 2.0}))], None, ">= 0"),
    (
        "k6-rate-over-one",
        [("k.json", _k6(http_req_failed={"passes": 1, "fails": 1, "value": 1.5}))],
        None,
        "fraction",
    ),
    (
        "k6-no-http-reqs",
        [("k.json", json.dumps({"metrics": {"vus": {"value": 1}}, "root_group": {}}).encode())],
        None,
        "http_reqs",
    ),
    (
        "k6-too-deep",
        [("k.json", b"[" * 100_000 + b"]" * 100_000)],
        "k6-summary-export",
        "nested too deeply",
    ),
    (
        "ndjson-bad-line",
        [("o.json", (K6_REQS + "{not json\n").encode())],
        None,
        "line 2 is not valid JSON",
    ),
    ("ndjson-negative", [("o.json", (K6_REQS + K6_POINT % "-5").encode())], None, "must be >= 0"),
    ("ndjson-infinite", [("o.json", (K6_REQS + K6_POINT % "1e309").encode())], None, "finite"),
    ("ndjson-no-requests", [("o.json", (K6_POINT % "5").encode())], None, "no http_reqs samples"),
    (
        "ndjson-bad-time",
        [("o.json", K6_REQS.replace("2024-08-05T15:24:38.95+07:00", "yesterday").encode())],
        None,
        "RFC 3339",
    ),
    (
        "k6-csv-header-only",
        [("k.csv", b"metric_name,timestamp,metric_value,method,name,status\n")],
        None,
        "no rows",
    ),
    ("jtl-header-only", [("r.jtl", JTL_HEADER.encode())], None, "no rows"),
    (
        "jtl-no-header",
        [("r.jtl", b"1601209013719,685,HTTP Request,200,OK,T 1-1,text,true\n")],
        None,
        "no header row",
    ),
    (
        "jtl-negative-elapsed",
        [("r.jtl", (JTL_HEADER + "1601209013719,-5,A,200,OK,T,text,true\n").encode())],
        None,
        "elapsed",
    ),
    (
        "jtl-bad-timestamp",
        [("r.jtl", (JTL_HEADER + "soon,5,A,200,OK,T,text,true\n").encode())],
        None,
        "timeStamp",
    ),
    (
        "xml-dtd",
        [
            (
                "r.xml",
                b'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY a "b">]><testResults version="1.2"/>',
            )
        ],
        "jmeter-xml",
        "DTD",
    ),
    (
        "xml-truncated",
        [
            (
                "r.xml",
                b'<?xml version="1.0"?>\n<testResults version="1.2">\n<httpSample t="5" ts="1" lb="A" s="true"',
            )
        ],
        None,
        "not well-formed XML",
    ),
    ("xml-other-root", [("r.xml", b"<project><target/></project>")], "jmeter-xml", "root"),
    (
        "xml-no-samples",
        [("r.xml", b'<testResults version="1.2"></testResults>')],
        None,
        "no samples",
    ),
    (
        "gatling-short-request",
        [("s.log", (GATLING_RUN + "REQUEST\t\tx\t1\n").encode())],
        None,
        "fields",
    ),
    (
        "gatling-end-before-start",
        [("s.log", (GATLING_RUN + "REQUEST\t\tx\t1648541265395\t1648541265087\tOK\t \n").encode())],
        None,
        "ends before it starts",
    ),
    (
        "gatling-bad-status",
        [("s.log", (GATLING_RUN + "REQUEST\t\tx\t1\t2\tMAYBE\t \n").encode())],
        None,
        "OK or KO",
    ),
    ("gatling-no-requests", [("s.log", GATLING_RUN.encode())], None, "no REQUEST records"),
    (
        "gatling-binary-truncated",
        [("s.log", b"\x00\x00\x00\x00\x063.13.1\x00\x00\x00\x00\x05")],
        None,
        "cut short",
    ),
    (
        "gatling-stats-js",
        [("stats.js", b'var stats = {\n type: "GROUP",\n "numberOfRequests": {"total": "1"}}')],
        None,
        "JavaScript",
    ),
    (
        "wrk-incomplete",
        [
            (
                "w.txt",
                b"Running 10s test @ http://127.0.0.1:1/\n  1 threads and 1 connections\n  Thread Stats   Avg\n",
            )
        ],
        None,
        "incomplete",
    ),
    (
        "wrk-unable",
        [
            (
                "w.txt",
                b"Running 1s test @ http://127.0.0.1:1/\n  Thread Stats\nunable to connect to 127.0.0.1:1 Connection refused\n",
            )
        ],
        None,
        "unable to connect",
    ),
    (
        "ab-incomplete",
        [
            (
                "ab.txt",
                b"This is ApacheBench, Version 2.3 <$Revision$>\nBenchmarking 127.0.0.1 (be patient)...\n",
            )
        ],
        None,
        "incomplete",
    ),
    (
        "hey-bad-number",
        [
            (
                "h.txt",
                b"Summary:\n  Total:\t-1.0 secs\n  Requests/sec:\t1\n\nStatus code distribution:\n  [200]\t1 responses\n",
            )
        ],
        None,
        ">= 0",
    ),
    (
        "vegeta-negative",
        [("v.json", b'{"latencies":{"mean":-1,"50th":1},"requests":1,"status_codes":{"200":1}}')],
        None,
        ">= 0",
    ),
    ("oha-no-summary", [("o.json", b'{"latencyPercentiles":{"p50":0.1}}')], None, "summary"),
    (
        "bombardier-cut",
        [("b.txt", b'{"spec":{"numberOfConnections":1},"result":{"req2xx":')],
        None,
        "cut short",
    ),
    ("unknown-format-id", [("a.csv", b"x")], "excel", "not a known format id"),
    (
        "forced-wrong-format",
        [("jmeter.jtl", (JTL_HEADER + "1601209013719,5,A,200,OK,T,text,true\n").encode())],
        "k6-csv",
        "looks like JMeter",
    ),
    (
        "mixed-tools",
        [
            ("s.csv", (LOCUST_HEADER + LOCUST_TOTAL).encode()),
            ("r.jtl", (JTL_HEADER + "1,5,A,200,OK,T,t,true\n").encode()),
        ],
        None,
        "not from one run",
    ),
    ("no-files", [], None, "No file"),
    (
        "gzip-damaged",
        [("a.csv.gz", gzip.compress((LOCUST_HEADER + LOCUST_TOTAL).encode())[:30])],
        None,
        "gzip",
    ),
    ("gzip-garbage", [("a.gz", b"\x1f\x8b" + b"\x00" * 40)], None, "gzip"),
]


@pytest.mark.parametrize(
    ("files", "fmt", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_file_gives_a_clear_parse_error(files, fmt, fragment):
    inputs = [InputFile(name, io.BytesIO(content)) for name, content in files]
    with pytest.raises(ParseError) as info:
        parse_run(inputs, fmt)
    message = info.value.message
    assert fragment in message
    assert message == str(info.value) and message.rstrip().endswith((".", ")"))
    if len(files) == 1 and fmt not in ("excel",):
        assert files[0][0] in message  # the person learns which file is wrong


def test_unknown_file_message_lists_what_is_accepted():
    with pytest.raises(ParseError) as info:
        parse_run([InputFile("x.txt", io.BytesIO(b"hello"))])
    assert all(label in info.value.message for label in FORMATS.values())
