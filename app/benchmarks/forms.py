"""One form per input of the benchmarks step; the service checks the values themselves."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import MultipleFileField, SelectField, StringField, TextAreaField
from wtforms.validators import Length

from app.forms import IdField, PrefixedForm
from app.parsers import FORMATS
from app.services.benchmarks import IncomingFile, RunDetails

ACCEPT = ".csv,.json,.ndjson,.jsonl,.jtl,.xml,.txt,.log,.html,.htm,.js,.bin,.gz"


class RunFieldsMixin:
    """What people enter with a run (no tool file carries it)."""

    label = StringField("Label", validators=[Length(max=120)],
                        description="e.g. “200 users, warm cache”; defaults to tool and file.")
    server = StringField("Server and workers", validators=[Length(max=120)],
                         description="e.g. gunicorn 4 sync workers, uvicorn 2 workers")
    hardware = StringField("Hardware", validators=[Length(max=120)],
                           description="e.g. 2 vCPU / 4 GB container")
    cpu_percent = StringField("CPU % observed", validators=[Length(max=20)])
    memory_mb = StringField("Memory MB observed", validators=[Length(max=20)],
                            description="Checked against the memory budget constraint.")
    notes = TextAreaField("Notes", validators=[Length(max=5000)])

    def details(self, tool: str = "") -> RunDetails:
        return RunDetails(label=self.label.data or "", tool=tool, server=self.server.data or "",
                          hardware=self.hardware.data or "", cpu_percent=self.cpu_percent.data,
                          memory_mb=self.memory_mb.data, notes=self.notes.data or "")


class UploadForm(RunFieldsMixin, PrefixedForm):
    prefix_name = "upload"

    candidate = SelectField("Candidate", choices=[], validate_choice=False)
    files = MultipleFileField("Result files of one run",
                              description="One file, or the files of one run together (Locust’s "
                                          "_stats.csv + _stats_history.csv + _failures.csv). "
                                          "Plain or .gz.")
    tool = SelectField("Format", choices=[("", "Detect from the content"), *FORMATS.items()],
                       default="", validate_choice=False)

    def incoming(self) -> list[IncomingFile]:
        return [IncomingFile(f.filename, f.stream) for f in self.files.data or []
                if getattr(f, "filename", None)]


class RunForm(RunFieldsMixin, PrefixedForm):
    prefix_name = "run"


class PlanForm(PrefixedForm):
    prefix_name = "plan"

    endpoints = TextAreaField("Endpoints, one per line", validators=[Length(max=4000)],
                              description="“GET /orders 3” — method, path, optional weight.")
    think_time_s = StringField("Think time (s)", validators=[Length(max=10)])
    users = StringField("Users", validators=[Length(max=10)],
                        description="At least; more when the target rate needs them.")
    duration_s = StringField("Duration (s)", validators=[Length(max=10)])
    host = StringField("Host", validators=[Length(max=200)])


class KnockoutForm(FlaskForm):
    candidate_id = IdField()
    constraint_id = IdField()
    run_id = IdField()
