"""`redact_uri`: no password of a tracking URI in anything idealoop prints or records."""

from __future__ import annotations

import pytest

from tracker.redaction import redact_uri
from tracker.store import StoreError, check_uri


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgresql://alice:pw1@db.example.com:5432/mlflow", "postgresql://alice:***@db.example.com:5432/mlflow"),
        ("mysql+pymysql://root:x%40y@127.0.0.1/t", "mysql+pymysql://root:***@127.0.0.1/t"),
        ("https://bob:s3cret@mlflow.example.com", "https://bob:***@mlflow.example.com"),
        ("https://ghp_token@mlflow.example.com/", "https://***@mlflow.example.com/"),  # a lone token
        ("postgresql://h/db?user=a&password=zz&sslmode=require", "postgresql://h/db?user=a&password=***&sslmode=require"),
        ("postgresql+psycopg2://root@/DB?host=/var/run/postgresql", "postgresql+psycopg2://root@/DB?host=/var/run/postgresql"),
        ("sqlite:////tmp/mlflow.db", "sqlite:////tmp/mlflow.db"),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("at http://u:p@ss@h:5000/api, then mysql://r:x@h/t.", "at http://u:***@h:5000/api, then mysql://r:***@h/t."),
    ],
)  # fmt: skip
def test_redact_uri_hides_passwords_and_keeps_the_rest(text, shown):
    assert redact_uri(text) == shown


@pytest.mark.parametrize(
    "uri",
    [
        "postgresq://alice:hunter2hunter2@db.example.com/" + "x" * 90,  # unknown scheme, cut at 80
        "mysql+mysqldb://alice:hunter2hunter2@db.example.com/t",  # a driver that is not installed
        "http://alice:hunter2hunter2@127.0.0.1:9",  # no server answers
    ],
)
def test_check_uri_errors_never_show_the_password(uri):
    with pytest.raises(StoreError) as err:
        check_uri(uri)
    assert "hunter2" not in str(err.value) and "alice:***@" in str(err.value)


def test_cli_failure_line_is_redacted(capsys, monkeypatch):
    from runners.cli import main

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://alice:hunter2hunter2@127.0.0.1:9")
    assert main(["idea", "list"]) == 2
    err = capsys.readouterr().err
    assert "hunter2" not in err and "alice:***@127.0.0.1:9" in err
