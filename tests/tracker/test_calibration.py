"""Calibration from decided ideas in a real store: every number with its n and interval, applied
to the ranking only from five ideas on, and decided ideas out of `idealoop idea list`."""

from __future__ import annotations

import json

import pytest

from runners.cli import main
from tests.tracker.decided import decide
from tracker.calibration import calibrated_ideas, calibration_summary, calibration_table, describe
from tracker.ideas import list_ideas


def test_one_decided_idea_is_reported_with_its_n_and_applied_nowhere(store, make_idea):
    """The reviewer's case: one idea, 2 h estimated, 0.04 h logged, a factor of 0.02."""
    idea = make_idea("decided", hours=2, likelihood=0.5)
    other = make_idea("open", hours=4, likelihood=0.3)
    decide(store, idea, succeeded=True, actual_hours=0.04)
    summary = calibration_summary(calibration_table(store))
    assert summary["decided"] == 1 and summary["planning_factor"] == pytest.approx(0.02)
    assert summary["planning_factor_interval"] == {"low": 0.0, "high": None, "n": 1, "level": 0.9}
    assert summary["planning_factor_applied"] == 1.0 and summary["likelihood_weight"] == 0.0
    lines = describe(summary)
    assert lines["planning_factor"] == (
        "planning factor 0.02 (n=1, 90% interval 0.00–∞) — not applied below 5 ideas with logged hours"
    )
    assert lines["brier"].startswith("Brier 0.250 (n=1, 90% interval 0.000–1.000)")
    assert lines["hit_rate"] == "hit rate 1.00 (n=1, 90% interval 0.27–1.00)"
    assert lines["likelihood"].endswith("— not applied below 5 decided ideas")
    # Below the minimum the calibrated ranking is the plain one, estimates and all.
    plain = {i.id: (i.hours, i.likelihood, i.score) for i in list_ideas(store)}
    calibrated = {i.id: (i.hours, i.likelihood, i.score) for i in calibrated_ideas(store, summary)}
    assert calibrated == plain and other in calibrated


def test_from_five_decided_ideas_calibration_is_applied_shrunk(store, make_idea):
    ideas = [make_idea(f"i{k}", hours=1, likelihood=0.8) for k in range(6)]
    for k, idea in enumerate(ideas[:5]):
        decide(store, idea, succeeded=k == 0, actual_hours=4.0)  # said 0.8, 1 in 5 worked, 4x the time
    summary = calibration_summary(calibration_table(store))
    assert summary["decided"] == 5 and summary["planning_factor"] == pytest.approx(4.0)
    assert summary["planning_factor_applied"] == pytest.approx(2.0)  # 4 ** (5 / 10)
    # Every stated likelihood was 0.8: no spread to fit a slope, so the fit says "the hit rate",
    # 0.2; half of it is applied: 0.5 * 0.8 + 0.5 * 0.2.
    (open_idea,) = [i for i in calibrated_ideas(store, summary) if i.id == ideas[5]]
    assert open_idea.hours == pytest.approx(2.0) and open_idea.likelihood == pytest.approx(0.5)
    assert "applied as 2.00 (weight 5/10, shrunk towards 1)" in describe(summary)["planning_factor"]
    iv = summary["hit_rate_interval"]
    assert iv["n"] == 5 and iv["low"] < 0.2 < iv["high"]


def test_idea_list_leaves_decided_ideas_out_unless_asked(store, make_idea, capsys):
    won = make_idea("won", hours=0.5, likelihood=0.9)  # the best score of all
    lost = make_idea("lost", hours=0.5, likelihood=0.8)
    todo = make_idea("todo", hours=3, likelihood=0.2)
    decide(store, won, succeeded=True)
    decide(store, lost, succeeded=False)
    capsys.readouterr()

    def listed(*args):
        assert main(["idea", "list", "--json", *args]) == 0
        return [i["title"] for i in json.loads(capsys.readouterr().out)]

    assert listed() == ["todo"]
    assert listed("--all") == ["won", "lost", "todo"]
    assert listed("--status", "succeeded") == ["won"]  # an explicit status is shown, decided or not
    assert listed("--calibrated") == ["todo"]
    assert main(["idea", "list"]) == 0
    out = capsys.readouterr()
    assert out.out.splitlines()[1].split()[:3] == ["1", f"{0.2 * 0.01 / 3:.4g}", "todo"]  # rank 1
    assert "2 decided ideas (succeeded/failed) not ranked: --all shows them" in out.err
    assert todo in out.out


def test_calibration_cli_prints_n_and_intervals(store, make_idea, capsys):
    assert main(["calibration", "--json"]) == 0
    empty = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert empty["decided"] == 0 and empty["brier"] is None and empty["hit_rate_interval"]["n"] == 0
    decide(store, make_idea("a", hours=2), succeeded=False, actual_hours=3.0)
    decide(store, make_idea("b", hours=2), succeeded=True)
    capsys.readouterr()
    assert main(["calibration"]) == 0
    out = capsys.readouterr().out
    assert "2 decided ideas" in out
    assert "Brier 0.250 (n=2, 90% interval " in out
    assert "planning factor 1.50 (n=1, 90% interval 0.00–∞) — not applied below 5" in out
    assert main(["calibration", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)  # strict JSON: an unbounded end is null
    assert data["planning_factor_interval"]["high"] is None and data["decided"] == 2
