"""Step 4 — benchmarks: the step's context and live regions, uploads, runs, starters, report.

The step's section (templates/reviews/steps/benchmarks.html) has one block outside any live
region, ``upload_form`` (so a refresh never clears a half-filled upload), and three live
regions that each client re-fetches through ``reviews.region`` when the room hears
``refresh``: ``benchmarks`` (the comparison), ``benchmark-uploads`` (the viewer's own
background uploads with their progress) and ``benchmark-plan`` (starter-script settings).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TypeVar

from flask import current_app, flash, send_file, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from app.access import access, current_role
from app.benchmarks import bp
from app.benchmarks.forms import ACCEPT, KnockoutForm, PlanForm, RunForm, UploadForm
from app.extensions import csrf, db
from app.forms import EmptyForm, attempt, form_status
from app.models import BenchmarkRun, BenchmarkUpload, Step
from app.rendering import redirect_to, render, wants_fragment
from app.reviews import steps
from app.reviews.forms import CandidateForm, DetailsForm
from app.reviews.routes import render_workspace
from app.services import benchmarks, charts, mapping, starters
from app.services.errors import Conflict, DomainError, Forbidden, NotFound

T = TypeVar("T")
STEP_TEMPLATE = "reviews/steps/benchmarks.html"
RUN_TEMPLATE = "benchmarks/run.html"
CHANGED_EVENT = "benchmarks-changed"  # HX-Trigger after this viewer's own change
UPLOADS_EVENT = "benchmark-uploads-changed"

steps.region(benchmarks.REGION, Step.BENCHMARKS, "benchmarks_region")
steps.region(benchmarks.UPLOADS_REGION, Step.BENCHMARKS, "uploads_region")
steps.region(benchmarks.PLAN_REGION, Step.BENCHMARKS, "plan_region")
bp.add_app_template_filter(benchmarks.fmt_number, "num")


def _run_option_label(run: BenchmarkRun) -> str:
    p95 = run.latency("p95")
    figures = f"{benchmarks.fmt_number(run.figure('rps'))} req/s"
    figures += f", p95 {benchmarks.fmt_number(p95)} ms" if p95 is not None else ""
    return f"{run.candidate.name} — {run.label} ({run.tool}, {figures})"


mapping.register_evidence("run", mapping.EvidenceSource(
    label="Benchmark run",
    resolve=lambda review, run_id: (run if (run := benchmarks.find_run(run_id))
                                    and run.review_id == review.id else None),
    options=lambda review: [(r.id, _run_option_label(r)) for r in benchmarks.runs_of(review)],
    url=lambda review, run_id: url_for("benchmarks.show_run", review_id=review.id, run_id=run_id),
))


class BenchmarksView:
    """What the step renders for one viewer; each part is computed only if a block uses it."""

    def __init__(self, review, viewer) -> None:
        self.review, self.viewer = review, viewer

    @cached_property
    def comparison(self) -> benchmarks.Comparison:
        return benchmarks.compare(self.review)

    @cached_property
    def charts(self) -> list[charts.Chart]:
        return charts.comparison_charts(self.comparison)

    @cached_property
    def uploads(self) -> list[BenchmarkUpload]:
        return benchmarks.uploads_for(self.viewer, self.review)

    @property
    def parsing(self) -> bool:
        return any(u.status == "parsing" and not benchmarks.is_stale(u) for u in self.uploads)

    @cached_property
    def plan(self):
        return benchmarks.plan_of(self.review)

    @cached_property
    def targets(self) -> starters.Targets:
        return starters.targets(self.review)

    @cached_property
    def users_needed(self) -> int:
        return starters.users_needed(self.plan, self.targets)


def upload_form(review, **kwargs) -> UploadForm:
    form = UploadForm(**kwargs)
    form.candidate.choices = [("", "Choose…")] + [(str(c.id), c.name) for c in review.candidates]
    return form


def plan_form(plan, **kwargs) -> PlanForm:
    if "formdata" in kwargs:  # a blank form shows the saved settings
        text = "\n".join(f"{e['method']} {e['path']} {e['weight']}" for e in plan.endpoints)
        kwargs.update(endpoints=text, think_time_s=f"{plan.think_time_s:g}", users=str(plan.users),
                      duration_s=str(plan.duration_s), host=plan.host)
    return PlanForm(**kwargs)


@steps.provides(Step.BENCHMARKS)
def benchmarks_context(review, viewer, **extra) -> dict:
    view = BenchmarksView(review, viewer)
    return {
        "bench": view,
        "upload_form": extra.get("upload_form") or upload_form(review, formdata=None),
        "plan_form": extra.get("plan_form") or plan_form(view.plan, formdata=None),
        "is_stale": benchmarks.is_stale,
        "accept": ACCEPT,
        "max_upload_mb": current_app.config["BENCHMARK_MAX_UPLOAD_MB"],
        "sync_limit_mb": current_app.config["BENCHMARK_SYNC_LIMIT_BYTES"] // (1024 * 1024),
    }


def step_url(review) -> str:
    return url_for("reviews.show_step", review_id=review.id, step=Step.BENCHMARKS.value)


def render_step(review, block: str, *, status: int = 200, **extra):
    """One block of the step for htmx; otherwise the whole workspace on this step."""
    if not wants_fragment():
        return render_workspace(review, Step.BENCHMARKS, block=None, status=status,
                                candidate_form=CandidateForm(formdata=None),
                                details_form=DetailsForm(formdata=None, obj=review), **extra)
    context = benchmarks_context(review, current_user, **extra) | extra
    return render(STEP_TEMPLATE, block, review=review, status=status, **context)


def submit(form: FlaskForm, action: Callable[[], T]) -> tuple[T | None, int]:
    """attempt(), and NotFound/Forbidden/Conflict shown on the form with their own status."""
    try:
        result = attempt(form, action)
    except (NotFound, Forbidden, Conflict) as err:
        db.session.rollback()
        form.form_errors.append(err.message)
        return None, err.status
    return result, form_status(form)


def check_csrf() -> None:
    """The upload view is exempt from the global CSRF hook, which would read (and spool to
    disk) the whole multipart body before the access check; the same check runs here, after
    the login and membership check."""
    if current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()


@bp.post("/reviews/<int:review_id>/benchmarks")
@access("review:member")
def upload(review):
    check_csrf()
    form = upload_form(review)
    result, status = submit(form, lambda: benchmarks.ingest_run(
        current_user, review, form.candidate.data, form.incoming(), form.details(form.tool.data),
        allow_background=True))
    if result is None:
        return render_step(review, "upload_form", upload_form=form, status=status)
    started = isinstance(result, BenchmarkUpload)
    if not wants_fragment():
        flash(f"Reading {result.names} in the background; its progress shows below." if started
              else f"Run “{result.label}” added for {result.candidate.name}.", "success")
        return redirect_to(step_url(review))
    response = render_step(review, "upload_form", status=202 if started else 201,
                           **({"started": result} if started else {"added": result}))
    response.headers["HX-Trigger"] = UPLOADS_EVENT if started else CHANGED_EVENT
    return response


@bp.post("/reviews/<int:review_id>/benchmarks/uploads/dismiss")
@access("review:member")
def dismiss_uploads(review):
    if EmptyForm().validate_on_submit():
        benchmarks.dismiss_uploads(current_user, review)
    return render_step(review, "uploads_region")


@bp.post("/reviews/<int:review_id>/benchmarks/knockouts")
@access("review:facilitator")
def apply_knockout(review):
    """The facilitator's one click on a knock-out suggestion of the comparison."""
    form = KnockoutForm()
    problem = None
    if form.validate_on_submit():
        try:
            benchmarks.apply_knockout(current_user, review, form.candidate_id.data,
                                      form.constraint_id.data, form.run_id.data)
        except DomainError as err:
            db.session.rollback()
            problem = err.message
    status = 422 if form.errors else (409 if problem else 200)
    return render_step(review, "benchmarks_region", status=status,
                       problem=problem or ("Choose a suggestion." if form.errors else None))


@bp.route("/reviews/<int:review_id>/benchmarks/plan", methods=["POST"])
@access("review:member")
def save_plan(review):
    form = PlanForm()
    saved, status = submit(form, lambda: benchmarks.save_plan(
        current_user, review, endpoints=form.endpoints.data, think_time_s=form.think_time_s.data,
        users=form.users.data, duration_s=form.duration_s.data, host=form.host.data))
    if saved is not None:
        return render_step(review, "plan_region", saved=True)
    return render_step(review, "plan_region", plan_form=form, status=status)


def _download(body: str, mimetype: str, filename: str):
    response = current_app.response_class(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/reviews/<int:review_id>/benchmarks/starter/locustfile.py")
@access("review:observer")
def starter_locust(review):
    return _download(starters.locustfile(review, benchmarks.plan_of(review)), "text/x-python",
                     "locustfile.py")


@bp.get("/reviews/<int:review_id>/benchmarks/starter/k6-script.js")
@access("review:observer")
def starter_k6(review):
    return _download(starters.k6_script(review, benchmarks.plan_of(review)), "text/javascript",
                     "k6-script.js")


@bp.get("/reviews/<int:review_id>/benchmarks/report")
@access("review:observer")
def report(review):
    """The print/export view: the comparison, checks, warnings, charts and every run."""
    view = BenchmarksView(review, current_user)
    return render("benchmarks/report.html", review=review, bench=view,
                  run_charts={run.id: charts.timeseries_charts([(run.candidate.name, run)],
                                                               prefix=f"run{run.id}-")
                              for run in view.comparison.runs})


# --- one run ---------------------------------------------------------------------------------

def render_run(review, run, *, block: str | None = None, status: int = 200, form=None,
               problem=None):
    return render(RUN_TEMPLATE, block, review=review, run=run, status=status, problem=problem,
                  form=form or RunForm(formdata=None, data=_run_fields(run)),
                  checks=benchmarks.checks_for_run(review, run),
                  warnings=benchmarks.warnings_for_run(review, run),
                  run_charts=charts.timeseries_charts([(run.candidate.name, run)],
                                                      prefix=f"run{run.id}-"),
                  action_form=EmptyForm(formdata=None), step_url=step_url(review),
                  may_delete=run.created_by_id == current_user.id or bool(
                      current_role() and current_role().at_least("facilitator")))


def _run_fields(run) -> dict:
    """The entered fields as the edit form shows them (numbers without trailing zeros)."""
    def number(value):
        return "" if value is None else f"{value:g}"

    return {"label": run.label, "server": run.server, "hardware": run.hardware,
            "notes": run.notes, "cpu_percent": number(run.cpu_percent),
            "memory_mb": number(run.memory_mb)}


@bp.get("/reviews/<int:review_id>/benchmarks/runs/<int:run_id>")
@access("review:observer")
def show_run(review, run_id: int):
    """A run's own page: the stable address a matrix cell cites as evidence."""
    return render_run(review, benchmarks.get_run(review, run_id))


@bp.post("/reviews/<int:review_id>/benchmarks/runs/<int:run_id>")
@access("review:member")
def update_run(review, run_id: int):
    run = benchmarks.get_run(review, run_id)
    form = RunForm()
    saved, status = submit(form, lambda: benchmarks.update_run(current_user, review, run_id,
                                                               form.details()))
    if saved is not None and not wants_fragment():
        flash("Run details saved.", "success")
        return redirect_to(url_for("benchmarks.show_run", review_id=review.id, run_id=run_id))
    return render_run(review, run, block="run_details", status=status,
                      form=None if saved else form)


@bp.post("/reviews/<int:review_id>/benchmarks/runs/<int:run_id>/pin")
@access("review:member")
def pin_run(review, run_id: int):
    if EmptyForm().validate_on_submit():
        benchmarks.pin_run(current_user, review, run_id)
    if wants_fragment():
        return render_step(review, "benchmarks_region")
    return redirect_to(url_for("benchmarks.show_run", review_id=review.id, run_id=run_id))


@bp.post("/reviews/<int:review_id>/benchmarks/runs/<int:run_id>/delete")
@access("review:member")
def delete_run(review, run_id: int):
    if EmptyForm().validate_on_submit():
        benchmarks.delete_run(current_user, review, run_id, current_role())
        flash("Run deleted.", "success")
    return redirect_to(step_url(review))


@bp.get("/charts.css")
@access("public")
def charts_css():
    """The charts' style sheet (pygal's rules; no data in it), linked from every page: the
    Content-Security-Policy refuses the <style> element pygal would embed in each chart."""
    response = current_app.response_class(charts.stylesheet(), mimetype="text/css")
    response.cache_control.public = True
    response.cache_control.max_age = 3600
    return response


@bp.get("/reviews/<int:review_id>/benchmarks/runs/<int:run_id>/files/<int:file_id>")
@access("review:observer")
def download_file(review, run_id: int, file_id: int):
    """The original file, always as an attachment: never rendered (it may be an HTML report)."""
    found, path = benchmarks.get_file(benchmarks.get_run(review, run_id), file_id)
    # Browsers percent-decode the plain filename parameter: a stored name such as
    # "%2e%2e%2fx" must not come back as a path, so "%" never reaches the header.
    response = send_file(path, mimetype="application/octet-stream", as_attachment=True,
                         download_name=found.name.replace("%", "_"), conditional=True,
                         etag=found.sha256)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


csrf.exempt(upload)  # checked in the view, after the access check (see check_csrf)
