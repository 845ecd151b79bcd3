"""What every board page shares: the store, cached reads, safe text, one-line errors.

Reads go through `tracker/` and are cached with `st.cache_data` for a few seconds,
keyed by (project, uri, ...) so two boards on two stores never mix; writes are never
cached, and every write clears the read caches so the next render shows it. Anything
a user typed (titles, descriptions) goes through `md_text` before it reaches
Markdown, so it shows as text and cannot add links, HTML or formatting.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

import streamlit as st

from tracker.redaction import redact_uri
from tracker.store import Store, StoreError

T = TypeVar("T")
LIVE_TTL_S = 2  # cache life of reads that change while runs are going
# Traffic-light colour (tracker.ladder) -> Streamlit colour and a Material icon: shape and colour both
# carry the verdict, so it reads in any font and for colour-blind readers.
LIGHT_STYLE = {
    "green": ("green", ":material/check_circle:"),
    "red": ("red", ":material/cancel:"),
    "yellow": ("orange", ":material/pending:"),
    "grey": ("gray", ":material/radio_button_unchecked:"),
}
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$&])")


def md_text(text: str) -> str:
    """User text made inert for `st.markdown`: every Markdown/HTML/directive character escaped."""
    return _MD_SPECIAL.sub(r"\\\1", text).replace("\n", " ")


def store() -> Store:
    """The project and tracking store the board was started on: the board's boundary.

    `idealoop board` puts its resolved store (absolute URI) in the server's environment;
    a board started by hand (`streamlit run board/app.py`) resolves the same way the CLI does.
    """
    try:
        return Store.resolve()
    except StoreError as exc:  # the URI itself is wrong: one line on the page, never a traceback
        st.error(f"Cannot read the tracking store: {first_line(exc)}")
        st.stop()
        raise  # unreachable: st.stop() raises


def first_line(exc: BaseException) -> str:
    text = redact_uri(str(exc)).strip().splitlines()  # never a password on the page
    return text[0] if text else type(exc).__name__


def read_or_stop(what: str, fn: Callable[..., T], *args: object) -> T:
    """Call a read; on any failure show one line naming the store and stop the page."""
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 - one clear message on the page, never a traceback
        st.error(f"Cannot read {what} from {redact_uri(store().uri)}: {first_line(exc)}")
        st.stop()
        raise  # unreachable: st.stop() raises


def wrote() -> None:
    """After any write: forget cached reads so the next render shows the change."""
    st.cache_data.clear()


def short(run_id: str) -> str:
    return run_id[:8]
