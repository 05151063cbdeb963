"""JSON API v1: thin adapters over the same services as the pages.

Every view is ``@access("token")``: only ``Authorization: Bearer <token>`` authenticates (a
login cookie never does, and CSRF does not apply); team and review membership is checked with
the same ``load_scope`` as the pages, so a non-member gets 404 and a member below the role 403.
Request bodies are validated and the OpenAPI document (``/api/v1/openapi.json``) is generated
from this code by spectree; errors are ``{"error": {"code", "message"}}`` (app/errors.py).
"""

from __future__ import annotations

from flask import g, jsonify, url_for
from spectree import Response, SecurityScheme, SecuritySchemeData, SpecTree
from spectree.model_adapter.pydantic_adapter import PydanticModelAdapter

from app.access import Rule, access, load_scope
from app.api import bp
from app.api.schemas import (
    ErrorOut,
    ReviewIn,
    ReviewList,
    ReviewOut,
    RunList,
    RunOut,
    TeamIn,
    TeamOut,
    UploadIn,
)
from app.models import BenchmarkRun, Review
from app.services import benchmarks, reviews, teams
from app.services.errors import Invalid, NotFound

FIELD_HINTS = {
    "file": "Attach the result file(s) of one run as multipart parts named “file”.",
    "candidate": "Name the candidate (its id or its name) in the “candidate” field.",
    "team_id": "Give the id of one of your teams as “team_id”.",
    "template": "Choose the template “python-web-framework” or “blank”.",
}


class InvalidRequest(Invalid):
    status = 422
    code = "invalid_request"


def reject_invalid(_req, _resp, error, _instance, _adapter) -> None:
    """spectree's hook: turn a validation error into one sentence in the API's error shape."""
    if error is None:
        return
    problems = []
    for item in error.errors():
        name = str(item["loc"][0]) if item.get("loc") else "body"
        problems.append(FIELD_HINTS.get(name) or f"“{name}”: {item['msg']}.")
    raise InvalidRequest(" ".join(dict.fromkeys(problems)) or "The request body is not valid.")


class ErrorsWithoutInput(PydanticModelAdapter):
    """spectree serialises a validation error to JSON before our hook replaces it; the input it
    echoes may hold an uploaded file (a part named “files” instead of “file”), which JSON cannot
    encode, so leave the input out (our hook's sentence never shows it anyway)."""

    def validation_errors(self, err):
        return err.errors(include_context=False, include_input=False, include_url=False)


api_spec = SpecTree(
    "flask", mode="strict", title="Tradeoff API", version="1",
    description="For CI pipelines: create teams and reviews, upload load-test results per "
                "candidate and read the normalized runs with their constraint checks. "
                "Authenticate with a personal API token: Authorization: Bearer <token>.",
    page_templates={}, validation_error_status=422, before=reject_invalid,
    validation_error_model=ErrorOut, model_adapter=ErrorsWithoutInput(),
    security_schemes=[SecurityScheme(name="bearerAuth", data=SecuritySchemeData(
        type="http", scheme="bearer", description="A personal API token (Account → API tokens)."))],
    security={"bearerAuth": []},
)
ERRORS = {f"HTTP_{code}": ErrorOut for code in (400, 401, 403, 404, 409, 413, 422)}


def scoped(kind: str, role: str, object_id: int):
    """The team or review ``object_id`` if the token's user has ``role`` in it (404/403)."""
    kwargs = {f"{kind}_id": object_id}
    load_scope(Rule.parse(f"{kind}:{role}"), kwargs, g.api_user)
    return kwargs[kind]


def review_payload(review: Review, *, full: bool = True) -> dict:
    data = {"id": review.id, "title": review.title, "team_id": review.team_id,
            "status": review.status, "step": review.current_step}
    if full:
        data |= {"question": review.question,
                 "candidates": [{"id": c.id, "name": c.name} for c in review.candidates]}
    return data


def run_payload(review: Review, run: BenchmarkRun, context: dict | None = None) -> dict:
    """A run in the contract's shape; ``context`` (compared runs, measurable constraints) is
    computed once when many runs are listed."""
    context = context or run_context(review)
    return {
        "id": run.id, "candidate": {"id": run.candidate.id, "name": run.candidate.name},
        "label": run.label, "tool": run.tool, "format": run.format,
        "tool_version": run.tool_version,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "created_at": run.created_at.isoformat(),
        "files": [{"name": f.name, "sha256": f.sha256, "bytes": f.bytes} for f in run.files],
        "summary": run.summary,
        "endpoints": [{key: e.get(key) for key in ("method", "name", "requests", "failures",
                                                     "rps", "latency_ms")}
                      for e in run.endpoints],
        "has_timeseries": run.has_timeseries, "status_codes": run.status_codes,
        "errors": run.errors, "recomputed": run.recomputed, "server": run.server,
        "hardware": run.hardware, "cpu_percent": run.cpu_percent, "memory_mb": run.memory_mb,
        "notes": run.notes, "pinned": run.pinned,
        "warnings": [{"code": w.code, "message": w.message}
                     for w in benchmarks.warnings_for_run(review, run, context["compared"])],
        "constraint_checks": [
            {key: getattr(c, key) for key in ("constraint_id", "kind", "label", "comparison",
                                              "target", "unit", "actual", "status", "knockout",
                                              "priority", "message")}
            for c in benchmarks.checks_for_run(review, run, context["measurable"])],
        "url": url_for("benchmarks.show_run", review_id=review.id, run_id=run.id,
                       _external=True),
    }


def run_context(review: Review) -> dict:
    return {"compared": benchmarks.compared_runs(review),
            "measurable": benchmarks.measurable_constraints(review)}


@bp.get("/openapi.json")
@access("public")
def openapi():
    """The OpenAPI 3.1 document, generated from the views and schemas of this module."""
    return jsonify(api_spec.spec)


@bp.post("/teams")
@access("token")
@api_spec.validate(resp=Response(HTTP_201=TeamOut, **ERRORS), tags=["teams"])
def create_team(json: TeamIn):
    """Create a team; the token's user becomes its owner."""
    team = teams.create_team(g.api_user, json.name)
    return {"id": team.id, "name": team.name}, 201


@bp.post("/reviews")
@access("token")
@api_spec.validate(resp=Response(HTTP_201=ReviewOut, **ERRORS), tags=["reviews"])
def create_review(json: ReviewIn):
    """Start a review in a team (facilitators and owners) from a template."""
    team = scoped("team", "facilitator", json.team_id)
    review = reviews.create_review(g.api_user, team, title=json.title, question=json.question,
                                   template=json.template, extra_candidates=json.candidates)
    return review_payload(review), 201


@bp.get("/reviews")
@access("token")
@api_spec.validate(resp=Response(HTTP_200=ReviewList, **ERRORS), tags=["reviews"])
def list_reviews():
    """Every review in the token user's teams, most recently changed first."""
    return {"reviews": [review_payload(r, full=False) for r in reviews.reviews_of(g.api_user)]}


@bp.get("/reviews/<int:review_id>")
@access("token")
@api_spec.validate(resp=Response(HTTP_200=ReviewOut, **ERRORS), tags=["reviews"])
def get_review(review_id: int):
    """One review with its candidates (their ids are what an upload names)."""
    return review_payload(scoped("review", "observer", review_id))


@bp.post("/reviews/<int:review_id>/benchmarks")
@access("token")
@api_spec.validate(resp=Response(HTTP_201=RunOut, **ERRORS), tags=["benchmarks"])
def upload_run(review_id: int, form: UploadIn):
    """Upload the result file(s) of one load-test run of a candidate (members).

    The format is detected from the content (``tool`` may override it). The run is parsed
    before the answer, whatever its size, so the answer carries its constraint checks (a CI
    job can fail on them). A file that is not a readable run gets 422 and nothing is stored."""
    review = scoped("review", "member", review_id)
    files = [benchmarks.IncomingFile(f.filename, f.stream) for f in form.file
             if getattr(f, "filename", None) is not None]
    details = benchmarks.RunDetails(
        label=form.label or "", tool=form.tool or "", server=form.server or "",
        hardware=form.hardware or "", cpu_percent=form.cpu_percent, memory_mb=form.memory_mb,
        notes=form.notes or "")
    run = benchmarks.ingest_run(g.api_user, review, form.candidate, files, details)
    return run_payload(review, run), 201


@bp.get("/reviews/<int:review_id>/benchmarks")
@access("token")
@api_spec.validate(resp=Response(HTTP_200=RunList, **ERRORS), tags=["benchmarks"])
def list_runs(review_id: int):
    """Every run of the review, by candidate, newest first."""
    review = scoped("review", "observer", review_id)
    context = run_context(review)
    return {"runs": [run_payload(review, run, context) for run in benchmarks.runs_of(review)]}


@bp.get("/benchmarks/<int:run_id>")
@access("token")
@api_spec.validate(resp=Response(HTTP_200=RunOut, **ERRORS), tags=["benchmarks"])
def get_run(run_id: int):
    """One run, with its warnings and constraint checks."""
    run = benchmarks.find_run(run_id)
    if run is None:
        raise NotFound("There is no such benchmark run, or it belongs to a team you are not in.")
    return run_payload(scoped("review", "observer", run.review_id), run)
