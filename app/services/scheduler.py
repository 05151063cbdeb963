"""Background work that must happen without any request: close votes at their deadline, send
reminders, flag records due for revisit, take over background parses whose process died.

The embedded default runs an APScheduler ``BackgroundScheduler`` in the app process (one
interval job, ``TRADEOFF_SCHEDULER_INTERVAL`` seconds, default 15). Scale-out runs one per
process, which is safe: every vote is closed by exactly one conditional UPDATE, every
notification is stored once by its unique key, and an interrupted parse is claimed by exactly
one conditional UPDATE on its expired lease (``BENCHMARK_PARSE_LEASE_S``, default 60; see
app/services/benchmarks.py). ``TRADEOFF_SCHEDULER=off`` turns it off (cron then calls
``flask votes close-due`` and ``flask votes remind``; interrupted parses then stay interrupted
until their uploader dismisses them); tests never start it.
"""

from __future__ import annotations

import atexit
import logging
import os
from dataclasses import dataclass

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask

from app.extensions import db
from app.services import benchmarks, decisions, notifications, votes

log = logging.getLogger(__name__)
EXTENSION_KEY = "tradeoff.scheduler"
JOB_ID = "tradeoff-due-work"


def configure(app: Flask) -> None:
    env = os.environ
    app.config.setdefault("TRADEOFF_SCHEDULER", env.get("TRADEOFF_SCHEDULER", "on"))
    app.config.setdefault("TRADEOFF_SCHEDULER_INTERVAL",
                          float(env.get("TRADEOFF_SCHEDULER_INTERVAL", "15")))
    app.config.setdefault("VOTE_REMINDER_BEFORE_HOURS",
                          float(env.get("VOTE_REMINDER_BEFORE_HOURS", "24")))
    app.config.setdefault("BENCHMARK_PARSE_LEASE_S",
                          float(env.get("BENCHMARK_PARSE_LEASE_S", benchmarks.DEFAULT_LEASE_S)))
    app.config.setdefault("BENCHMARK_PROGRESS_INTERVAL_S", float(
        env.get("BENCHMARK_PROGRESS_INTERVAL_S", benchmarks.PROGRESS_INTERVAL_S)))
    notifications.configure(app)


@dataclass
class PassResult:
    closed: int
    reminded: int
    revisits: int
    resumed: int = 0


def due_work() -> PassResult:
    """One pass (inside an app context): close due votes, remind, notify due revisits, take
    over interrupted background parses (each then runs in a background task of its own)."""
    closed = votes.close_due()
    reminded = votes.remind_due()
    revisits = decisions.notify_revisits_due()
    resumed = benchmarks.resume_interrupted()
    return PassResult(len(closed), reminded, revisits, len(resumed))


def run_pass(app: Flask) -> PassResult | None:
    """The scheduler's job: one pass in a fresh app context; errors are logged, not raised,
    so that the next pass runs."""
    with app.app_context():
        try:
            return due_work()
        except Exception:  # noqa: BLE001 - a failed pass must not stop the scheduler
            app.logger.exception("scheduled pass failed")
            db.session.rollback()
            return None
        finally:
            db.session.remove()


def start(app: Flask, interval: float | None = None) -> BackgroundScheduler:
    """Start the background scheduler for this app (returns it; ``shutdown()`` stops it)."""
    seconds = interval or float(app.config["TRADEOFF_SCHEDULER_INTERVAL"])
    scheduler = BackgroundScheduler(daemon=True, timezone="UTC")
    scheduler.add_job(run_pass, "interval", args=[app], seconds=seconds, id=JOB_ID,
                      max_instances=1, coalesce=True, misfire_grace_time=None)
    scheduler.start()
    app.extensions[EXTENSION_KEY] = scheduler
    atexit.register(lambda: scheduler.running and scheduler.shutdown(wait=False))
    return scheduler


def init_app(app: Flask) -> None:
    """Configure, and start the scheduler unless testing or TRADEOFF_SCHEDULER=off."""
    configure(app)
    if app.config.get("TESTING") or str(app.config["TRADEOFF_SCHEDULER"]).lower() in (
            "off", "0", "false", "no"):
        return
    start(app)
