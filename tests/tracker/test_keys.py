"""Metric keys and tag names are spelled in one place each (STYLE.md §7).

`tracker/keys.py` names every metric key and param prefix, the tag table in
`tracker/store.py` every tag. Everywhere else in tracker/, runners/ and board/, code
refers to those constants. The scan below reads every module's syntax tree and fails,
naming file:line, when a code string constant (the literal parts of f-strings
included) is a key or tag from the tables, starts with one of their namespaces
(`train/`, `idealoop.`, `revision.` ...), or quotes a namespaced key inside longer
text (a search filter, an error message). Docstrings may name keys freely.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tracker import keys, store

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("tracker", "runners", "board")
TABLES = ("tracker/keys.py", "tracker/store.py")  # the two places allowed to spell them
TELEMETRY_DOC = ROOT / "docs" / "telemetry.md"
# The same word used for something that is not a metric key: (module, text of its line) -> why.
# Matched by the line's text, not its number, so edits elsewhere in the module leave it valid.
NOT_KEYS = {
    ("board/idea_artifacts.py", 'st.select_slider("epoch", epochs, value=epochs[-1], key="epoch")'): (
        "the samples slider's label and widget key"
    ),
    ("runners/training/checkpoint.py", '"epochs_done": old["epoch"]'): "a field of old trial checkpoints",
    ("runners/training/fit.py", 'unit="epoch"'): "tqdm's unit label",
    ("board/app.py", 'st.Page(PAGES / "queue.py"'): "the Queue page's file name, not a queue.<param>",
    ("runners/queue/warm_server.py", '"mlflow.store.tracking.sqlalchemy_store"'): "a module preloaded",
}


def table_values() -> dict[str, str]:
    """Every spelled key, prefix and tag in the two tables: value -> constant name."""
    out = {v: f"keys.{k}" for k, v in vars(keys).items() if k.isupper() and isinstance(v, str)}
    out.update({v: f"store.{k}" for k, v in vars(store).items() if k.startswith("TAG_")})
    return out


def namespace(value: str) -> str | None:
    """The leading namespace of a key: `train/loss` -> `train/`, `idealoop.gate.` -> `idealoop.`."""
    m = re.match(r"[^/.]+[/.]", value)
    return m.group(0) if m else None


def scan_source(source: str, values: dict[str, str]) -> list[tuple[int, str, str]]:
    """(line, literal, constant to use instead) for each code string that spells a key or tag."""
    spaces = {ns: values[v] for v in values if (ns := namespace(v))}
    # A namespaced key or prefix inside longer text ("... idealoop.kind=idea", "tags.`val/loss`"); a
    # whole key must end there (`val/loss` is not in `val/loss_batch`), a prefix runs on into a name.
    spelled = sorted((v for v in values if namespace(v)), key=len, reverse=True)  # longest first
    ends = {v: "" if v[-1] in "/." else r"(?![\w/])" for v in spelled}
    embedded = re.compile(r"(?<![\w/])(" + "|".join(re.escape(v) + ends[v] for v in spelled) + ")")
    tree = ast.parse(source)
    docstrings = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)}
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)) or id(node) in docstrings:
            continue
        text = node.value
        if text in values:
            found.append((node.lineno, text, values[text]))
        elif hit := next((ns for ns in spaces if text.startswith(ns)), None):
            found.append((node.lineno, text, f"a constant in the {spaces[hit].split('.')[0]} table ({hit})"))
        elif m := embedded.search(text):
            found.append((node.lineno, text, values[m.group(1)]))
    return found


def package_modules() -> list[Path]:
    files = sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))
    return [p for p in files if p.relative_to(ROOT).as_posix() not in TABLES]


def test_no_module_spells_a_metric_key_or_tag_outside_the_tables():
    values = table_values()
    modules = package_modules()
    assert len(modules) > 30, "the scan found almost no modules; is ROOT right?"
    problems, excused = [], set()
    for path in modules:
        name, lines = path.relative_to(ROOT).as_posix(), path.read_text().splitlines()
        for line, text, instead in scan_source("\n".join(lines), values):
            why = [(m, snip) for m, snip in NOT_KEYS if m == name and snip in lines[line - 1]]
            excused.update(why)
            if not why:
                problems.append(f"{name}:{line}: {text!r} (use {instead})")
    assert not problems, "keys or tags spelled outside tracker/keys.py and tracker/store.py:\n" + "\n".join(
        problems
    )
    # An entry that no longer matches anything would excuse the next literal put there.
    assert set(NOT_KEYS) == excused, f"NOT_KEYS entries that match nothing now: {set(NOT_KEYS) - excused}"


@pytest.mark.parametrize(
    ("snippet", "line"),
    [
        ('run.log_metric("val/loss", 1.0)', 1),  # a known key
        ('x = 1\nrun.set_tags({"idealoop.kind": "idea"})', 2),  # a known tag
        ('metrics["epoch"]', 1),  # an un-namespaced key
        ('k = f"hist/{kind}/{name}/mean"', 1),  # an f-string's literal part under a key namespace
        ('tags[f"idealoop.gate.{name}"] = "passed"', 1),  # a prefix the tag table names
        ('k = "idealoop.someday_new"', 1),  # a tag no table knows yet, by its namespace
        ('k = f"revision.{n:04d}"', 1),  # a param prefix
        ('search(f"tags.`idealoop.kind` = {kind!r}")', 1),  # a tag inside a search filter
        ('raise ValueError(f"run {rid} has no idealoop.idea_id tag")', 1),  # a tag inside a message
        ('st.caption(f"see the idealoop.gate.{name} tag")', 1),  # a tag prefix inside a message
        ('st.caption("No `time/data_s` in this run.")', 1),  # a key inside UI text
    ],
)
def test_scanner_catches_a_planted_literal(snippet, line):
    # A scanner that matched nothing (wrong node type, f-strings skipped) would pass the
    # whole-package test vacuously; each planted literal must be reported on its line.
    found = scan_source(snippet, table_values())
    assert [f[0] for f in found] == [line]


@pytest.mark.parametrize(
    "snippet",
    [
        '"""A docstring may say val/loss and idealoop.kind."""',
        'def f():\n    """Logs train/loss every batch."""\n    return 1',
        "run.log_metric(keys.VAL_LOSS, 1.0)  # a comment may say val/loss",
        'path = f"samples/epoch_{epoch:04d}.png"',  # an artifact path, not a key
        'label = "epochs"',
        'cmd = "idealoop run overfit --idea ID"',  # the CLI's name, not a tag namespace
        'name = "overfit_one"',  # a gate name; overfit_one/<x> are the keys
        'msg = "every interval/2 steps"',  # a namespace's letters ending a longer word
        'url = "http://host/val/loss"',  # a path segment that happens to look like a key
    ],
)
def test_scanner_leaves_docstrings_comments_and_lookalikes_alone(snippet):
    assert scan_source(snippet, table_values()) == []


def test_every_key_and_tag_is_documented_in_telemetry_md():
    # docs/telemetry.md is the reader's table; a key added to the code table but not
    # there would leave the board and the learning code guessing. A prefix is documented
    # by its namespaced form, e.g. `hist/<kind>/...` or `idealoop.gate.<name>`.
    doc = TELEMETRY_DOC.read_text()
    missing = [
        f"{name} = {value!r}"
        for value, name in table_values().items()
        if f"`{value}`" not in doc and f"`{value}<" not in doc
    ]
    assert not missing, "not in docs/telemetry.md:\n" + "\n".join(missing)
