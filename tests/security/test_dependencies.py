"""The installed web stack is not older than the fix of any published advisory we know of.

There is no network access to an advisory database here, so the table lives in this file:
advisory id(s), package, first fixed version, and where it is published. Sources: the PyPA
advisory database (github.com/pypa/advisory-database, PYSEC ids), the GitHub advisory database
(GHSA ids, github.com/advisories) and the projects' own security advisories / changelogs
(Pallets: github.com/pallets/*/security/advisories; Miguel Grinberg's python-engineio,
python-socketio, Flask-SocketIO; benoitc/gunicorn). When a new advisory is published, add its
row; the test then fails until the environment (and pyproject's floor) is upgraded."""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]

# (advisory, package, first fixed version, what it is / where published)
ADVISORIES = [
    # Werkzeug — github.com/pallets/werkzeug/security/advisories
    ("CVE-2023-23934 / GHSA-px8h-6qxv-m22q", "werkzeug", "2.2.3", "nameless cookie parsing"),
    ("CVE-2023-25577 / GHSA-xg9f-g7g7-2323", "werkzeug", "2.2.3", "multipart: unlimited parts"),
    ("CVE-2023-46136 / GHSA-hrfv-mqp8-q5rw", "werkzeug", "3.0.1", "multipart boundary DoS"),
    ("CVE-2024-34069 / GHSA-2g68-c3qc-8985", "werkzeug", "3.0.3", "debugger RCE via other host"),
    ("CVE-2024-49766 / GHSA-f9vj-2wh5-fj8j", "werkzeug", "3.0.6", "safe_join UNC paths (Windows)"),
    ("CVE-2024-49767 / GHSA-q34m-jh98-gwm2", "werkzeug", "3.0.6", "multipart memory exhaustion"),
    ("CVE-2025-66221 / GHSA-hgf8-39gv-g3f2", "werkzeug", "3.1.4", "safe_join device names"),
    ("CVE-2026-21860 / GHSA-87hc-h4r5-73f7", "werkzeug", "3.1.5", "safe_join device names (2)"),
    ("CVE-2026-27199 / GHSA-29vq-49wr-vm6x", "werkzeug", "3.1.6", "safe_join device names (3)"),
    # Flask — github.com/pallets/flask/security/advisories
    ("CVE-2023-30861 / GHSA-m2qf-hxjv-5gpq", "flask", "2.3.2", "Vary: Cookie on refreshed session"),
    ("CVE-2025-47278 / GHSA-4grg-w6v8-c28g", "flask", "3.1.1", "fallback secret key order"),
    ("CVE-2026-27205 / GHSA-68rp-wp8r-4726 / PYSEC-2026-2151", "flask", "3.1.3",
     "Vary: Cookie when the session is only tested with `in`"),
    # Jinja2 — github.com/pallets/jinja/security/advisories
    ("CVE-2024-22195 / GHSA-h5c8-rqwp-cp95", "jinja2", "3.1.3", "xmlattr keys with spaces"),
    ("CVE-2024-34064 / GHSA-h75v-3vvj-5mfj", "jinja2", "3.1.4", "xmlattr keys with / > ="),
    ("CVE-2024-56201 / GHSA-gmj6-6f8f-6699", "jinja2", "3.1.5", "template filename injection"),
    ("CVE-2024-56326 / GHSA-q2x7-8rv6-6q7h", "jinja2", "3.1.5", "sandbox escape via str.format"),
    ("CVE-2025-27516 / GHSA-cpwx-vrp4-4pq7", "jinja2", "3.1.6", "sandbox escape via |attr"),
    # python-engineio — github.com/miguelgrinberg/python-engineio/security/advisories
    ("CVE-2019-13611 / GHSA-j3jp-gvr5-7hwq / PYSEC-2019-170", "python-engineio", "3.9.0",
     "cross-site WebSocket hijacking (Origin not checked)"),
    ("CVE-2026-48802 / GHSA-cgwc-pv48-fhj5", "python-engineio", "4.13.2",
     "unbounded thread allocation (DoS)"),
    ("GHSA-m9gh-vj53-gvh9", "python-engineio", "4.13.2", "payload size limit (DoS)"),
    ("CVE-2026-48809", "python-engineio", "4.13.3", "DoS; fixed in 4.13.3"),
    # python-socketio — github.com/miguelgrinberg/python-socketio/security/advisories
    ("pyup: CSWSH", "python-socketio", "4.3.0", "cross-origin WebSocket (pyup.io)"),
    ("CVE-2025-61765 / GHSA-g8c6-8fjj-2r4m / PYSEC-2026-1854", "python-socketio", "5.14.0",
     "pickle in the message queue (RCE)"),
    ("CVE-2026-48804 / GHSA-5w7q-77mv-v69f / PYSEC-2026-3042", "python-socketio", "5.16.2",
     "binary attachment accumulation (DoS)"),
    # Flask-SocketIO — pyup.io advisory database
    ("pyup: CSWSH", "flask-socketio", "4.2.0", "cross-origin WebSocket (pyup.io)"),
    # gunicorn — github.com/benoitc/gunicorn/security/advisories
    ("CVE-2024-1135 / GHSA-w3h3-4rj7-4ph4", "gunicorn", "22.0.0", "request smuggling (TE)"),
    ("CVE-2024-6827 / GHSA-hc5x-x2vx-497g", "gunicorn", "23.0.0", "request smuggling (TE.CL)"),
]

STACK = ["flask", "werkzeug", "jinja2", "python-engineio", "python-socketio", "flask-socketio",
         "gunicorn"]


def installed(package: str) -> Version:
    try:
        return Version(version(package))
    except PackageNotFoundError:
        pytest.fail(f"{package} is not installed")


@pytest.mark.parametrize("advisory, package, fixed, what", ADVISORIES,
                         ids=[f"{p}-{a.split(' ')[0]}" for a, p, _, _ in ADVISORIES])
def test_installed_version_has_the_fix(advisory, package, fixed, what):
    have = installed(package)
    assert have >= Version(fixed), f"{package} {have} is affected by {advisory} ({what}); " \
                                   f"upgrade to {fixed} or later"


def test_every_package_of_the_stack_is_in_the_table():
    assert set(STACK) == {p for _, p, _, _ in ADVISORIES}


def declared_floors() -> dict[str, Version]:
    """The lowest version pyproject.toml allows, per package."""
    text = (ROOT / "pyproject.toml").read_text()
    block = re.search(r"^dependencies = \[(.*?)^\]", text, re.S | re.M).group(1)
    floors = {}
    for line in re.findall(r'"([^"]+)"', block):
        req = Requirement(line)
        lows = [Version(s.version) for s in req.specifier if s.operator in (">=", "==", "~=")]
        if lows:
            floors[req.name.lower()] = max(lows)
    return floors


@pytest.mark.parametrize("package", [p for p in STACK if p != "jinja2"])
def test_pyproject_does_not_allow_a_vulnerable_version(package):
    """A fresh install from pyproject must not be able to resolve to an affected version
    (Jinja2 comes with Flask, whose own floor requires a fixed one)."""
    floor = declared_floors().get(package)
    assert floor is not None, f"pyproject.toml declares no lower bound for {package}"
    newest_fix = max(Version(f) for _, p, f, _ in ADVISORIES if p == package)
    assert floor >= newest_fix, f"pyproject allows {package} {floor} < {newest_fix}"
