"""What the board's page tests share: an AppTest of one page of the real app, with query params."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[3] / "board" / "app.py")


def open_page(name: str, **query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page(f"views/{name}.py")
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


@pytest.fixture
def page():
    """`page("idea", id=...)`: the page rendered once against the test's store."""
    return open_page
