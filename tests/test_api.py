"""The JSON API v1 contract, end to end: a token from the CLI, teams, reviews, a multipart
upload with a bearer token, reading it back, and every error as JSON; cookies never
authenticate it; the OpenAPI document is generated, valid and lists the contract."""

from __future__ import annotations

import io
import json

import pytest
from openapi_spec_validator import validate

from app.extensions import db
from app.models import BenchmarkFile, BenchmarkRun
from app.services import benchmarks, constraints, tokens
from tests.test_benchmarks import (
    AB_TEXT,
    BAD_FILES,
    K6_TEXT,
    count,
    jmeter_csv,
    login,
    stored_blobs,
)

MULTIPART = "multipart/form-data"
CONTRACT = {
    "/api/v1/teams": {"post"},
    "/api/v1/reviews": {"get", "post"},
    "/api/v1/reviews/{review_id}": {"get"},
    "/api/v1/reviews/{review_id}/benchmarks": {"get", "post"},
    "/api/v1/benchmarks/{run_id}": {"get"},
}
RUN_KEYS = {"id", "candidate", "label", "tool", "files", "summary", "endpoints", "has_timeseries",
            "warnings", "constraint_checks"}


def bearer(user) -> dict:
    return {"Authorization": f"Bearer {tokens.create_token(user, 'tests')[1]}"}


def post_run(client, headers, review_id, candidate, *files, **fields):
    data = {"candidate": str(candidate), "file": [(io.BytesIO(body), name) for name, body in files]}
    return client.post(f"/api/v1/reviews/{review_id}/benchmarks", headers=headers,
                       data=data | fields, content_type=MULTIPART)


def assert_error(response, status: int, code: str | None = None) -> str:
    assert response.status_code == status, response.get_data(as_text=True)[:1000]
    assert response.mimetype == "application/json"
    error = response.json["error"]
    assert set(error) == {"code", "message"} and error["message"]
    if code:
        assert error["code"] == code
    return error["message"]


def test_contract_end_to_end_with_a_token_from_the_cli(app, runner, world):
    member = world.users["member"]
    printed = runner.invoke(args=["users", "token", member.email, "--name", "CI"])
    assert printed.exit_code == 0, printed.output
    secret = printed.output.strip()
    assert secret.startswith("tro_")
    auth = {"Authorization": f"Bearer {secret}"}
    api = app.test_client()

    team = api.post("/api/v1/teams", json={"name": "Orders CI"}, headers=auth)
    assert team.status_code == 201 and team.json["name"] == "Orders CI" and team.json["id"]
    review = api.post("/api/v1/reviews", headers=auth, json={
        "team_id": team.json["id"], "title": "Framework for orders", "template": "blank",
        "candidates": ["Django", "FastAPI"]})
    assert review.status_code == 201, review.json
    assert {"id", "title", "team_id", "status", "step", "candidates"} <= set(review.json)
    assert [c["name"] for c in review.json["candidates"]] == ["Django", "FastAPI"]
    review_id = review.json["id"]
    listed = api.get("/api/v1/reviews", headers=auth).json["reviews"]
    assert {"id": review_id, "title": "Framework for orders", "team_id": team.json["id"],
            "status": "draft", "step": "constraints"} in listed
    assert world.review.id in {r["id"] for r in listed}  # the member's other team too
    one = api.get(f"/api/v1/reviews/{review_id}", headers=auth).json
    fastapi = next(c for c in one["candidates"] if c["name"] == "FastAPI")

    owner_review = db.session.get(type(world.review), review_id)
    constraints.add_constraint(member, owner_review, kind="latency_p95_ms", priority="must",
                               knockout=True, target=100)
    up = post_run(api, auth, review_id, fastapi["id"], ("summary.json", K6_TEXT.encode()),
                  label="nightly", server="uvicorn 2 workers", memory_mb="256", cpu_percent="140",
                  notes="from CI")
    assert up.status_code == 201, up.json
    run = up.json
    assert RUN_KEYS <= set(run)
    assert run["candidate"] == {"id": fastapi["id"], "name": "FastAPI"}
    assert (run["label"], run["tool"], run["format"]) == ("nightly", "k6", "k6-summary-export")
    assert run["files"] == [{"name": "summary.json", "sha256": run["files"][0]["sha256"],
                             "bytes": len(K6_TEXT.encode())}]
    summary = run["summary"]
    assert set(summary) == {"requests", "failures", "error_rate", "rps", "duration_s",
                            "concurrency", "latency_ms"}
    assert set(summary["latency_ms"]) == {"avg", "min", "p50", "p90", "p95", "p99", "max"}
    assert summary["requests"] == 60000 and summary["error_rate"] == pytest.approx(0.002)
    assert summary["latency_ms"]["p95"] == 120.0
    assert run["has_timeseries"] is False and run["memory_mb"] == 256.0
    (check,) = run["constraint_checks"]
    assert (check["status"], check["knockout"], check["actual"], check["target"]) == (
        "fail", True, 120.0, 100.0)
    assert "p95 120 ms > target 100 ms" in check["message"]
    assert run["url"].endswith(f"/reviews/{review_id}/benchmarks/runs/{run['id']}")

    assert api.get(f"/api/v1/benchmarks/{run['id']}", headers=auth).json == run
    runs = api.get(f"/api/v1/reviews/{review_id}/benchmarks", headers=auth).json["runs"]
    assert runs == [run]


def test_endpoints_and_warnings_in_the_run(app, world):
    auth = bearer(world.users["member"])
    api = app.test_client()
    first = post_run(api, auth, world.review.id, "Django", ("ab.txt", AB_TEXT.encode()))
    second = post_run(api, auth, world.review.id, "Flask", ("r.jtl", jmeter_csv(300).encode()))
    assert first.status_code == second.status_code == 201
    run = second.json
    assert run["endpoints"][0]["name"] == "GET /orders"
    assert set(run["endpoints"][0]) == {"method", "name", "requests", "failures", "rps",
                                        "latency_ms"}
    codes = {w["code"] for w in run["warnings"]}
    assert {"short_run", "different_tools"} <= codes  # 3 s of JMeter against 40 s of ab


def test_cookies_never_authenticate_the_api(app, world):
    browser = login(app, world.users["owner"])
    assert_error(browser.get("/api/v1/reviews"), 401, "token_required")
    assert_error(browser.post("/api/v1/teams", json={"name": "x"}), 401, "token_required")
    r = post_run(browser, {}, world.review.id, "Django", ("ab.txt", AB_TEXT.encode()))
    assert_error(r, 401)
    assert count(BenchmarkRun) == 0
    # a token in a cookie or the query string does not count either
    secret = tokens.create_token(world.users["owner"])[1]
    assert_error(app.test_client().get(f"/api/v1/reviews?token={secret}"), 401)
    assert app.test_client().get("/api/v1/reviews",
                                 headers={"Authorization": f"Bearer {secret}"}).status_code == 200


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer nope", "Basic dXNlcjpwdw==",
                                    "Bearer tro_not-a-real-token"])
def test_bad_or_missing_tokens_get_401_json(app, world, header):
    r = app.test_client().get("/api/v1/reviews", headers={"Authorization": header} if header
                              else {})
    message = assert_error(r, 401, "token_required")
    assert "Authorization: Bearer" in message and r.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoked_token_stops_working(app, world):
    token, secret = tokens.create_token(world.users["member"], "temp")
    api = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    assert api.get("/api/v1/reviews", headers=headers).status_code == 200
    tokens.revoke_token(world.users["member"], token.id)
    assert_error(api.get("/api/v1/reviews", headers=headers), 401)


def test_membership_and_roles_apply_to_the_api(app, world):
    api = app.test_client()
    outsider, observer = bearer(world.users["non_member"]), bearer(world.users["observer"])
    member = bearer(world.users["member"])
    assert_error(api.get(f"/api/v1/reviews/{world.review.id}", headers=outsider), 404)
    assert_error(api.get(f"/api/v1/reviews/{world.review.id}/benchmarks", headers=outsider), 404)
    assert api.get(f"/api/v1/reviews/{world.review.id}", headers=observer).status_code == 200
    assert_error(post_run(api, observer, world.review.id, "Django", ("ab.txt", AB_TEXT.encode())),
                 403)
    assert_error(post_run(api, outsider, world.review.id, "Django", ("ab.txt", AB_TEXT.encode())),
                 404)
    assert count(BenchmarkRun) == 0 and stored_blobs(app) == []
    run_id = post_run(api, member, world.review.id, "Django",
                      ("ab.txt", AB_TEXT.encode())).json["id"]
    assert_error(api.get(f"/api/v1/benchmarks/{run_id}", headers=outsider), 404)
    assert_error(api.get("/api/v1/benchmarks/999999", headers=member), 404)
    assert_error(api.post("/api/v1/reviews", headers=member, json={
        "team_id": world.team.id, "title": "Mine"}), 403)  # members do not start reviews
    assert_error(api.post("/api/v1/reviews", headers=outsider, json={
        "team_id": world.team.id, "title": "Theirs"}), 404)
    assert_error(api.get("/api/v1/reviews/999999", headers=member), 404)


@pytest.mark.parametrize("body, field", [
    ({}, "name"), ({"name": ""}, "name"), ({"name": "x" * 81}, "name"),
])
def test_invalid_team_bodies(app, world, body, field):
    message = assert_error(app.test_client().post("/api/v1/teams", json=body,
                                                  headers=bearer(world.users["member"])),
                           422, "invalid_request")
    assert field in message


def test_invalid_review_bodies(app, world):
    api, auth = app.test_client(), bearer(world.users["owner"])
    assert "template" in assert_error(api.post("/api/v1/reviews", headers=auth, json={
        "team_id": world.team.id, "title": "T", "template": "spreadsheet"}), 422)
    assert "team_id" in assert_error(api.post("/api/v1/reviews", headers=auth,
                                              json={"title": "T"}), 422)
    assert_error(api.post("/api/v1/reviews", headers=auth, data="{not json",
                          content_type="application/json"), 422)


def test_upload_errors_are_json_with_a_sentence(app, world):
    api, auth = app.test_client(), bearer(world.users["member"])
    missing = post_run(api, auth, world.review.id, "Django")
    assert "multipart parts named “file”" in assert_error(missing, 422, "invalid_request")
    unknown = post_run(api, auth, world.review.id, "Cobol on Cogs", ("ab.txt", AB_TEXT.encode()))
    assert "Django, Flask, FastAPI" in assert_error(unknown, 400)
    tool = post_run(api, auth, world.review.id, "Django", ("ab.txt", AB_TEXT.encode()),
                    tool="excel")
    assert "tool" in assert_error(tool, 400) and "locust" in tool.json["error"]["message"]
    wrong = post_run(api, auth, world.review.id, "Django", ("ab.txt", AB_TEXT.encode()),
                     tool="k6")
    assert "not k6" in assert_error(wrong, 422, "unreadable_file")
    memory = post_run(api, auth, world.review.id, "Django", ("ab.txt", AB_TEXT.encode()),
                      memory_mb="-3")
    assert "memory_mb" in assert_error(memory, 422)
    # the file under another part name is a missing “file”, not a 500 (the part is echoed nowhere)
    misnamed = api.post(f"/api/v1/reviews/{world.review.id}/benchmarks", headers=auth,
                        content_type=MULTIPART, data={"candidate": "Django",
                                                      "files": [(io.BytesIO(AB_TEXT.encode()), "ab.txt")]})
    assert "multipart parts named “file”" in assert_error(misnamed, 422, "invalid_request")
    assert count(BenchmarkRun) == 0 and stored_blobs(app) == []


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_files_through_the_api_store_nothing(app, world, case):
    name, body = BAD_FILES[case]
    r = post_run(app.test_client(), bearer(world.users["member"]), world.review.id, "Django",
                 (name, body))
    message = assert_error(r, 422, "unreadable_file")
    assert name.split(".")[0] in message or "file" in message
    assert count(BenchmarkRun) == 0 and count(BenchmarkFile) == 0 and stored_blobs(app) == []


def test_api_upload_over_the_limit_is_413_json(app, world):
    app.config["MAX_CONTENT_LENGTH"] = 2048
    r = post_run(app.test_client(), bearer(world.users["member"]), world.review.id, "Django",
                 ("big.jtl", jmeter_csv(100).encode()))
    assert "larger than" in assert_error(r, 413, "too_large")
    assert count(BenchmarkRun) == 0 and stored_blobs(app) == []


def test_large_api_uploads_are_parsed_before_the_answer(app, world):
    """CI needs the checks in the answer: the API never defers to the background."""
    app.config["BENCHMARK_SYNC_LIMIT_BYTES"] = 1024
    r = post_run(app.test_client(), bearer(world.users["member"]), world.review.id, "Flask",
                 ("r.jtl", jmeter_csv(2000).encode()))
    assert r.status_code == 201 and r.json["summary"]["requests"] == 2000


def test_several_files_of_one_locust_run(app, world):
    from tests.test_benchmarks import LOCUST_HEADER
    stats = LOCUST_HEADER + (
        "GET,/orders,100,2,20,25.5,3,300,27,10.0,0.2,20,22,25,27,40,60,90,120,290,300,300\n"
        ",Aggregated,100,2,20,25.5,3,300,27,10.0,0.2,20,22,25,27,40,60,90,120,290,300,300\n")
    failures = "Method,Name,Error,Occurrences\nGET,/orders,HTTPError('500 Server Error'),2\n"
    r = post_run(app.test_client(), bearer(world.users["member"]), world.review.id, "Django",
                 ("run_stats.csv", stats.encode()), ("run_failures.csv", failures.encode()))
    assert r.status_code == 201, r.json
    assert [f["name"] for f in r.json["files"]] == ["run_stats.csv", "run_failures.csv"]
    assert r.json["summary"]["requests"] == 100 and r.json["summary"]["failures"] == 2


def test_openapi_document_is_generated_valid_and_lists_the_contract(app):
    r = app.test_client().get("/api/v1/openapi.json")
    assert r.status_code == 200 and r.mimetype == "application/json"
    doc = r.json
    validate(doc)
    assert doc["openapi"].startswith("3.")
    for path, methods in CONTRACT.items():
        assert methods <= set(doc["paths"][path]), path
    upload = doc["paths"]["/api/v1/reviews/{review_id}/benchmarks"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    schemas = doc["components"]["schemas"]
    run = next(s for name, s in schemas.items() if name.startswith("RunOut"))
    assert RUN_KEYS <= set(run["properties"])
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert "401" in doc["paths"]["/api/v1/reviews"]["get"]["responses"]
    text = json.dumps(doc)
    assert "cdn" not in text.lower()
    for ui in ("/apidoc/swagger", "/apidoc/redoc", "/apidoc/openapi.json"):
        assert app.test_client().get(ui).status_code == 404  # no doc pages, nothing from a CDN


def test_api_needs_no_csrf_token(app, world):
    app.config["WTF_CSRF_ENABLED"] = True
    r = app.test_client().post("/api/v1/teams", json={"name": "No CSRF here"},
                               headers=bearer(world.users["member"]))
    assert r.status_code == 201


def test_same_service_serves_page_and_api(app, world):
    """One ingest_run: an API upload shows on the page, with the same figures."""
    r = post_run(app.test_client(), bearer(world.users["member"]), world.review.id, "Django",
                 ("ab.txt", AB_TEXT.encode()), label="from the API")
    page = login(app, world.users["observer"]).get(
        f"/reviews/{world.review.id}/steps/benchmarks").get_data(as_text=True)
    assert "from the API" in page and "500" in page
    assert benchmarks.compare(world.review).row_for(r.json["candidate"]["id"]).run.id == \
        r.json["id"]
