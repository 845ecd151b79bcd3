"""Fresh PostgreSQL and MariaDB databases for tests, each dropped afterwards.

The development and CI machines run PostgreSQL (127.0.0.1:5432, trust auth, user postgres)
and MariaDB (127.0.0.1:3306, root, empty password); `IDEALOOP_TEST_POSTGRES` /
`IDEALOOP_TEST_MYSQL` name other servers (a URL without the database). A test session
creates its own database with a fresh name on each (several sessions share a server),
so nothing depends on what an earlier session left. A server that does not answer skips
the tests that need it, saying so; a missing driver fails them (install `idealoop[team]`).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import pytest

SERVERS = {
    "postgresql": ("IDEALOOP_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432", "postgres"),
    "mariadb": ("IDEALOOP_TEST_MYSQL", "mysql+pymysql://root@127.0.0.1:3306", ""),
}


@contextlib.contextmanager
def fresh_database(kind: str) -> Iterator[str]:
    """Yield the SQLAlchemy URI of a new, empty database on the `kind` server; drop it after."""
    import sqlalchemy as sa

    variable, default, admin_db = SERVERS[kind]
    server = os.environ.get(variable, default).rstrip("/")
    name = f"idealoop_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(
        f"{server}/{admin_db}",
        isolation_level="AUTOCOMMIT",
        poolclass=sa.pool.NullPool,
        connect_args={"connect_timeout": 3},
    )
    try:
        conn = admin.connect()
    except sa.exc.OperationalError as exc:
        pytest.skip(f"no {kind} server answers at {server} ({str(exc.orig).splitlines()[0]}); set {variable}")
    quoted = admin.dialect.identifier_preparer.quote(name)
    with conn:
        conn.exec_driver_sql(f"CREATE DATABASE {quoted}")
    try:
        yield f"{server}/{name}"
    finally:
        _dispose_mlflow_engine(f"{server}/{name}")
        force = " WITH (FORCE)" if kind == "postgresql" else ""  # MLflow's pooled connections may be open
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted}{force}")
        admin.dispose()


def _dispose_mlflow_engine(uri: str) -> None:
    """Close the connections MLflow's engine cache holds to the database, so it can be dropped."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    engine = SqlAlchemyStore._engine_map.pop(uri, None)
    if engine is not None:
        engine.dispose()
