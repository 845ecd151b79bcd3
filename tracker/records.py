"""Numbered, immutable records on an idea run (revisions, comments), and who wrote them.

A record is a param `<prefix>NNNN` holding JSON. Params cannot change once written, so two
people writing at once cannot both claim N: the loser sees MLflow refuse and claims N+1
(`claim`); nothing is lost or overwritten, on SQLite, PostgreSQL, MySQL or a server.

Who is speaking (`author`): `--author` (the board's "You are" box), else `IDEALOOP_USER`,
else the tracking server's authenticated user (`MLFLOW_TRACKING_USERNAME`, when the store is
an HTTP server), else the OS user. Every revision, estimate and comment records it.
"""

from __future__ import annotations

import getpass
import json
import os
import uuid
from dataclasses import dataclass

from mlflow.exceptions import MlflowException

from tracker import keys
from tracker.estimates import EstimateError, check_text
from tracker.store import StoreError

MAX_CLAIMS = 50  # retries when concurrent writers race for the same record number
MAX_RECORD_CHARS = 6_000  # MLflow cuts a longer param value, which would leave broken JSON


def author(explicit: str | None = None, uri: str = "") -> str:
    """The person speaking (see the module docstring), bounded like any typed text."""
    name = (explicit or "").strip() or os.environ.get("IDEALOOP_USER", "").strip()
    if not name and uri.startswith(("http://", "https://")):
        name = os.environ.get("MLFLOW_TRACKING_USERNAME", "").strip()
    if not name:
        try:
            name = getpass.getuser()
        except Exception:  # noqa: BLE001 - no user name in some containers
            name = "unknown"
    return check_text("author", name)


@dataclass
class Revision:
    number: int
    time_ms: int
    source: str
    author: str
    changes: dict
    note: str = ""
    damaged: bool = False  # the stored record could not be read; its estimates live on in the metrics


@dataclass
class Comment:
    number: int
    time_ms: int
    author: str
    text: str


def numbers(params: dict[str, str], prefix: str) -> list[int]:
    return [int(k[len(prefix) :]) for k in params if k.startswith(prefix) and k[len(prefix) :].isdigit()]


def claim(client, run_id: str, prefix: str, record: dict, first: int) -> int:
    """Write `record` as the param `<prefix>NNNN` with the lowest free number from `first` on;
    return the number claimed."""
    record = {**record, "nonce": uuid.uuid4().hex[:8]}  # two identical records must still conflict
    # ensure_ascii=False: non-ASCII text would otherwise grow six-fold as \\uXXXX escapes.
    text = json.dumps(record, ensure_ascii=False)
    if len(text) > MAX_RECORD_CHARS:  # texts are bounded, so only odd control characters get here
        raise EstimateError(f"record is {len(text):,} characters; MLflow keeps at most {MAX_RECORD_CHARS:,}")
    number = first
    for _ in range(MAX_CLAIMS):
        try:
            client.log_param(run_id, f"{prefix}{number:04d}", text)
            return number
        except MlflowException as exc:
            if "INVALID_PARAMETER_VALUE" not in str(exc.error_code) and "Changing" not in str(exc):
                raise
            number += 1  # someone else claimed it first
    raise StoreError(f"could not claim a record number {prefix}* on run {run_id}")


def revisions(params: dict[str, str]) -> list[Revision]:
    """An idea's revisions, oldest first."""
    prefix = keys.REVISION_PREFIX
    return [_revision(k, v) for k, v in sorted(params.items()) if k.startswith(prefix)]


def _revision(key: str, value: str) -> Revision:
    """One stored revision record; a malformed one (e.g. cut by an older idealoop) reads as damaged
    instead of making the whole idea unreadable."""
    number = int(key[len(keys.REVISION_PREFIX) :])
    try:
        rec = json.loads(value)
        status = {"status": rec["status"]} if "status" in rec else {}
        return Revision(
            number=number,
            time_ms=int(rec["time"]),
            source=str(rec.get("source", "")),
            author=str(rec.get("author", "")),
            changes={**dict(rec.get("changes", {})), **status},
            note=str(rec.get("note", "")),
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        note = f"damaged revision record ({len(value):,} characters stored); its estimates are kept"
        return Revision(number, 0, "?", "?", {}, note, damaged=True)


def comments(params: dict[str, str]) -> list[Comment]:
    """An idea's comments, oldest first; an unreadable one is left out."""
    out = []
    for key, value in sorted(params.items()):
        if not key.startswith(keys.COMMENT_PREFIX):
            continue
        try:
            rec = json.loads(value)
            out.append(Comment(int(key[len(keys.COMMENT_PREFIX) :]), int(rec["time"]),
                               str(rec.get("author", "")), str(rec["text"])))  # fmt: skip
        except (ValueError, TypeError, KeyError):
            continue
    return out
