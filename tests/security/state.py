"""What "nothing changed" means for the attack tests: every row of every table, and every file
under the upload folder, before and after a request."""

from __future__ import annotations

import os
from pathlib import Path

from app.extensions import db


def database_rows() -> dict[str, list[tuple]]:
    """Every table's rows, in a stable order. Read through a fresh connection, so what the
    test's own session has cached does not hide a change."""
    db.session.commit()  # no transaction of the test's session stays open across the request
    rows = {}
    with db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            rows[table.name] = sorted(tuple(map(repr, r)) for r in conn.execute(table.select()))
    return rows


def stored_files(app) -> list[tuple[str, int]]:
    root = Path(app.config["UPLOAD_FOLDER"])
    if not root.exists():
        return []
    return sorted((str(Path(d, f).relative_to(root)), os.path.getsize(Path(d, f)))
                  for d, _, files in os.walk(root) for f in files)


def snapshot(app) -> dict:
    return {"rows": database_rows(), "files": stored_files(app)}


def changes(before: dict, after: dict, ignore: dict[str, set[int]] | None = None) -> dict:
    """Tables (and "files") that differ. ``ignore`` names columns by position per table that
    may change (read-side bookkeeping such as a token's last use)."""
    ignore = ignore or {}
    out = {}
    for name in sorted(set(before["rows"]) | set(after["rows"])):
        skip = ignore.get(name, set())

        def strip(rows, skip=skip):
            return sorted(tuple(v for i, v in enumerate(r) if i not in skip) for r in rows)

        old, new = strip(before["rows"].get(name, [])), strip(after["rows"].get(name, []))
        if old != new:
            out[name] = {"before": len(old), "after": len(new),
                         "added": [r for r in new if r not in old][:3],
                         "removed": [r for r in old if r not in new][:3]}
    if before["files"] != after["files"]:
        out["files"] = {"before": before["files"], "after": after["files"]}
    return out
