"""An idea's comment thread: who said what, when, kept on the idea run itself.

"Before you commit time to an idea, get feedback": the thread sits beside the revisions.
Each comment is an immutable param `comment.NNNN` (JSON {time, author, text}) claimed like
a revision (`tracker.records.claim`), so two people commenting at once both land, in
MLflow, with no second database. The text is stored as typed; the board shows it inert
(no Markdown, no HTML).
"""

from __future__ import annotations

import time

from tracker import keys, records
from tracker.estimates import check_text
from tracker.ideas import resolve_id
from tracker.store import Store

Comment = records.Comment


def add_comment(store: Store, idea_id: str, text: str, *, author: str | None = None) -> Comment:
    """Append a comment to an idea (text bounded and author resolved before anything is written)."""
    text = check_text("comment", text, required=True)
    who = records.author(author, store.uri)
    run_id = resolve_id(store, idea_id)
    existing = records.numbers(store.client.get_run(run_id).data.params, keys.COMMENT_PREFIX)
    now = int(time.time() * 1000)
    record = {"time": now, "author": who, "text": text}
    number = records.claim(store.client, run_id, keys.COMMENT_PREFIX, record, max(existing, default=-1) + 1)
    return Comment(number, now, who, text)


def list_comments(store: Store, idea_id: str) -> list[Comment]:
    """An idea's comments, oldest first."""
    return records.comments(store.client.get_run(resolve_id(store, idea_id)).data.params)
