"""Several people on one idea, in a real store: who is speaking, their own estimates pooled into
the score, the comment thread, each person's calibration and the weighted ranking."""

from __future__ import annotations

import json
import math
import threading

import pytest

from runners.cli.parser import main
from tests.tracker.decided import decide
from tracker import records
from tracker.comments import add_comment, list_comments
from tracker.estimates import Estimates
from tracker.ideas import add_idea, get_idea, list_ideas, update_idea
from tracker.person_calibration import person_rows, person_summary, person_weights
from tracker.pooling import PoolSettings, logit, sigmoid
from tracker.store import Store


def test_author_is_the_flag_then_idealoop_user_then_the_servers_user_then_the_os_user(monkeypatch):
    monkeypatch.setenv("IDEALOOP_USER", "ida")
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "sam")
    assert records.author(" flag ", "http://h:5000") == "flag"
    assert records.author(None, "http://h:5000") == "ida"
    monkeypatch.delenv("IDEALOOP_USER")
    assert records.author("", "https://h") == "sam"
    # a local store has no authenticated user: a leftover server variable must not name people
    assert records.author(None, "sqlite:////tmp/x.db") not in ("sam", "")
    monkeypatch.setattr(records.getpass, "getuser", lambda: "osuser")
    assert records.author(None, "sqlite:////tmp/x.db") == "osuser"


def test_three_people_estimate_from_the_cli_and_the_pool_is_right_by_hand(store, monkeypatch, capsys):
    add = ["--hours", "2", "--complexity", "1", "--impact", "0.01", "--likelihood", "0.2"]
    assert main(["idea", "add", "--title", "shared", *add, "--author", "alice"]) == 0
    idea = capsys.readouterr().out.strip()
    monkeypatch.setenv("IDEALOOP_USER", "bob")
    assert main(["idea", "estimate", idea, "--likelihood", "0.8", "--hours", "8"]) == 0
    carol = ["--likelihood", "0.5", "--complexity", "3", "--author", "carol"]
    assert main(["idea", "estimate", idea, *carol]) == 0
    assert main(["idea", "estimate", idea, "--author", "carol"]) == 2  # nothing given: one line
    assert main(["idea", "estimate", idea, "--likelihood", "2", "--author", "carol"]) == 2
    assert "likelihood=2 is out of range" in capsys.readouterr().err
    assert main(["idea", "comment", idea, "**bold** <b>x</b>\nsecond line"]) == 0
    capsys.readouterr()
    assert main(["idea", "show", idea, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["likelihood"] == pytest.approx(0.5)  # log-odds -ln4, +ln4, 0: mean 0
    assert shown["hours"] == pytest.approx(4.0)  # geometric mean of 2 and 8
    assert shown["complexity"] == 3  # alice 1, carol 3: the upper median
    assert shown["impact"] == 0.01  # alice alone
    assert shown["people"] == {
        "alice": {"hours": 2, "complexity": 1, "impact": 0.01, "likelihood": 0.2},
        "bob": {"hours": 8, "likelihood": 0.8},
        "carol": {"complexity": 3, "likelihood": 0.5},
    }  # each person's own numbers survive the others'
    # the failed estimates wrote nothing
    assert [r["author"] for r in shown["revisions"]] == ["alice", "bob", "carol"]
    comments = [(c["author"], c["text"]) for c in shown["comments"]]
    assert comments == [("bob", "**bold** <b>x</b>\nsecond line")]
    # alice's own score 0.2·0.01/2, bob's 0.8·0.01/(8·1.5), carol's 0.5·0.01/(4·1.5): 1.5× apart
    assert shown["disagreement"] == pytest.approx(0.001 / (0.8 * 0.01 / 12))
    assert main(["idea", "show", idea]) == 0
    out = capsys.readouterr().out
    assert "estimates by person (3):" in out and "spread hours      2–8 (4× apart)   pooled 4" in out
    assert "bob: **bold** <b>x</b> second line" in out
    assert main(["idea", "list", "--extremize", "9"]) == 2
    assert "extremize=9.0 is out of range" in capsys.readouterr().err


def test_concurrent_estimates_and_comments_all_land(store):
    idea = add_idea(store, "raced", Estimates.parse(hours=1, complexity=1, impact=0.01, likelihood=0.5))
    start, errors = threading.Barrier(3), []

    def person(name: str) -> None:
        mine = Store(project=store.project, uri=store.uri)  # each its own client, as two boards
        start.wait()
        try:
            for i in range(4):
                update_idea(mine, idea, changes={"likelihood": 0.1 * (i + 1)}, author=name)
                add_comment(mine, idea, f"{name}-{i}", author=name)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=person, args=(n,)) for n in ("ann", "ben", "cat")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    found, revisions, _ = get_idea(store, idea)
    assert [r.number for r in revisions] == list(range(13))  # creation + 12, no number twice
    assert sorted(c.text for c in list_comments(store, idea)) == sorted(
        f"{n}-{i}" for n in ("ann", "ben", "cat") for i in range(4)
    )
    assert {p: v["likelihood"] for p, v in found.people.items() if p != records.author(None, store.uri)} == {
        "ann": pytest.approx(0.4), "ben": pytest.approx(0.4), "cat": pytest.approx(0.4)
    }  # fmt: skip


def test_each_persons_calibration_and_the_weighted_ranking(store, capsys):
    est = dict(hours=2, complexity=1, impact=0.01)
    # alice says 95% or 5%, and each comes true 2 times in 3: over-confident. bob says 60% for
    # what succeeds and 40% for what fails: right every time, under-confident.
    for i, (alice, succeeded) in enumerate([(0.95, True), (0.05, False), (0.95, False), (0.05, True),
                                            (0.95, True), (0.05, False)]):  # fmt: skip
        idea = add_idea(store, f"done {i}", Estimates.parse(**est, likelihood=alice), author="alice")
        update_idea(store, idea, changes={"likelihood": 0.6 if succeeded else 0.4}, author="bob")
        decide(store, idea, succeeded=succeeded, actual_hours=4.0 if i == 0 else None)
    rows = person_rows(store)
    a = person_summary(rows, "alice")
    assert a["decided"] == 6 and a["brier"] == pytest.approx((4 * 0.05**2 + 2 * 0.95**2) / 6)  # 0.3025
    assert a["reliability"] == pytest.approx((3 * (0.05 - 1 / 3) ** 2 + 3 * (0.95 - 2 / 3) ** 2) / 6)
    assert a["resolution"] == pytest.approx(2 * 3 * (1 / 6) ** 2 / 6)  # bins at 1/3 and 2/3, hit rate 1/2
    assert a["planning_factor"] == pytest.approx(2.0)  # 4 h logged on a 2 h estimate
    weights = person_weights(rows)
    assert weights["alice"] < 1 < weights["bob"]

    # Two live ideas alike but for their likelihoods: alice 0.9 and bob 0.2 on one, carol 0.55 alone.
    split = add_idea(store, "split", Estimates.parse(**est, likelihood=0.9), author="alice")
    update_idea(store, split, changes={"likelihood": 0.2}, author="bob")
    add_idea(store, "carol's", Estimates.parse(**est, likelihood=0.55), author="carol")
    live = lambda ideas: [i.title for i in ideas if i.title in ("split", "carol's")]  # noqa: E731
    plain = list_ideas(store)
    assert live(plain) == ["split", "carol's"]  # mean log-odds of 0.9 and 0.2: 0.6 > 0.55
    weighted = list_ideas(store, pool=PoolSettings(weights=weights))
    by_hand = sigmoid((weights["alice"] * logit(0.9) + weights["bob"] * logit(0.2)) / 2)
    assert next(i.likelihood for i in weighted if i.title == "split") == pytest.approx(by_hand)
    assert by_hand < 0.55 and live(weighted) == ["carol's", "split"]  # the over-confident 0.9 counts less
    assert main(["idea", "list", "--weighted"]) == 0
    out = capsys.readouterr().out
    assert out.index("carol's") < out.index("split")
    assert main(["calibration", "--person", "alice"]) == 0
    out = capsys.readouterr().out
    assert "alice: 6 decided ideas" in out and "Brier 0.302" in out and "planning factor 2.00" in out
    assert main(["calibration", "--person", "nobody"]) == 2
    assert "people: alice, bob" in capsys.readouterr().err
    assert not math.isnan(person_summary(rows, "bob")["brier"])
