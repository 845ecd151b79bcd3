"""Secrets kept out of what idealoop records and prints: passwords in tracking URIs.

A team's tracking URI may carry a database password (`postgresql://u:pw@host/db`) or a
token (`https://token@host`). The URI itself, password included, is only ever handed to
MLflow; every error line, tag, param, artifact and board caption that shows one passes it
through `redact_uri`. `server_refusal` turns a server's 401/403 into one line that says
which variables to set.
"""

from __future__ import annotations

import os
import re

REDACTED = "***"
_URI_USERINFO = r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^/?#\s@]*(?:@[^/?#\s@]*)*)@"
_PASSWORD_QUERY = r"(?i)(?P<key>[?&;\s](?:password|passwd|pwd)=)[^&;\s]*"


def redact_uri(text: str) -> str:
    """`text` with the password of every URI in it replaced by ***: `postgresql://u:pw@host/db`
    → `postgresql://u:***@host/db`, `https://u:pw@host` likewise (and `https://token@host`,
    where a lone user is a token), `?password=pw` too.

    Why: a team's tracking URI may carry a database password, and idealoop records and prints
    URIs (error lines, the board's caption, run tags and tracebacks). Everything that records
    or prints one passes it through here; the URI itself, with its password, is only ever
    handed to MLflow. Works on a bare URI or on any line that contains URIs.
    """

    def userinfo(match: re.Match) -> str:
        scheme, (user, sep, _) = match["scheme"], match["userinfo"].partition(":")
        if not sep and scheme.lower() in ("http://", "https://"):
            return f"{scheme}{REDACTED}@"  # a lone user name in a web URL is a token
        return f"{scheme}{user}{':' + REDACTED if sep else ''}@"

    text = re.sub(_URI_USERINFO, userinfo, str(text))
    return re.sub(_PASSWORD_QUERY, lambda m: m["key"] + REDACTED, text)


def server_refusal(exc: BaseException) -> str:
    """One line for a tracking server that refused a request for who made it (HTTP 401: no or
    wrong credentials; 403: a user without permission), else "". MLflow's own text is a
    paragraph with a link; this says which variables to set."""
    found = re.search(r"error code (401|403)\b", str(exc))
    if found is None:
        return ""
    user = os.environ.get("MLFLOW_TRACKING_USERNAME", "")
    if found[1] == "403":
        return f"the server refused user {user!r}: no permission for this (ask its admin for EDIT)"
    if not user or not os.environ.get("MLFLOW_TRACKING_PASSWORD"):
        return (
            "the server refused the request (no or wrong credentials): "
            "set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD"
        )
    return f"the server refused user {user!r}: wrong user name or password (MLFLOW_TRACKING_PASSWORD)"
