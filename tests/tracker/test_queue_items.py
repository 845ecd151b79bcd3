"""The queue in MLflow (tracker/queue_items.py, queue_sessions.py, queue_report.py) and its command
line's checks, without Ray: items, reordering, fates and the report built from what is stored."""

from __future__ import annotations

import time

import pytest

from runners.cli import main
from runners.cli.queue import parse_until
from tracker import queue_items as qi
from tracker import queue_sessions as qs
from tracker.queue_report import build_report, move, queue_rows, render, usage
from tracker.store import TAG_QUEUE_ITEM


def test_items_live_in_their_own_experiment_and_the_ideas_list_never_sees_them(store, make_idea):
    from tracker.ideas import list_ideas

    idea = make_idea("x")
    a = qi.add_item(store, idea_id=idea, what="generalize", stage="generalize", task="digits",
                    overrides={"epochs": "1"}, cpus=0.5, gpus=0.25, minutes=3)  # fmt: skip
    (item,) = qi.list_items(store)
    assert (item.id, item.state, item.overrides, item.held, item.minutes) == (
        a,
        "queued",
        {"epochs": "1"},
        (0.5, 0.25),
        3,
    )
    assert store.client.get_run(a).info.experiment_id != store.experiment_id
    assert [i.id for i in list_ideas(store)] == [idea]
    assert qi.get_item(store, a[:8]).id == a  # a unique prefix is enough
    with pytest.raises(qi.QueueError, match="matches no item"):
        qi.get_item(store, "ffffffff")


def test_a_sweep_holds_its_per_trial_resources_max_concurrent_times():
    sweep = qi.QueueItem(
        "s", "i", "sweep", "generalize", "digits", cpus=1, gpus=0.25, sweep={"max_concurrent": 4}
    )
    assert sweep.held == (4.0, 1.0)


def test_reordering_gives_the_whole_queue_explicit_priorities_in_its_new_order(store, make_idea):
    ideas = [make_idea(f"i{n}", impact=0.1 / (n + 1)) for n in range(3)]
    ids = [
        qi.add_item(store, idea_id=i, what="baseline", stage="baseline", task="digits", minutes=1)
        for i in ideas
    ]
    assert [r.item.id for r in queue_rows(store)] == ids  # by score
    move(store, ids[2], 2)  # to the top
    assert [r.item.id for r in queue_rows(store)] == [ids[2], ids[0], ids[1]]
    move(store, ids[2], -1)
    assert [r.item.id for r in queue_rows(store)] == [ids[0], ids[2], ids[1]]
    qi.remove_item(store, ids[0])
    assert [r.item.id for r in queue_rows(store)] == [ids[2], ids[1]]
    with pytest.raises(qi.QueueError, match="only a queued item can be removed"):
        qi.remove_item(store, ids[0])


def test_usage_counts_what_items_held_against_the_clusters_hours():
    h, t0 = 3_600_000, 1_800_000_000_000
    a = qi.QueueItem(
        "a", "", "baseline", "baseline", "digits", cpus=1, gpus=0.5, started_ms=t0, ended_ms=t0 + h
    )
    b = qi.QueueItem("b", "", "baseline", "baseline", "digits", cpus=2, started_ms=t0 + h)  # still running
    skipped = qi.QueueItem("c", "", "baseline", "baseline", "digits", cpus=4)
    got = usage([a, b, skipped], {"CPU": 4, "GPU": 1}, t0, t0 + 2 * h)
    assert got == pytest.approx({"cpu_used": 3.0, "cpu_idle": 5.0, "gpu_used": 0.5, "gpu_idle": 1.5})
    # Every job ended an hour before the session did (the queue ran dry): that hour is not counted.
    b_done = qi.QueueItem(
        "b", "", "baseline", "baseline", "digits", cpus=2, started_ms=t0 + h, ended_ms=t0 + 2 * h
    )
    got = usage([a, b_done, skipped], {"CPU": 4, "GPU": 1}, t0, t0 + 3 * h)
    assert got == pytest.approx({"cpu_used": 3.0, "cpu_idle": 5.0, "gpu_used": 0.5, "gpu_idle": 1.5})


def test_the_report_accounts_for_every_item_of_the_session_from_what_is_stored(store, make_idea):
    idea = make_idea("reported")
    add = lambda **kw: qi.add_item(
        store, idea_id=idea, what="baseline", stage="baseline", task="digits", **kw
    )  # noqa: E731
    done, failed, skipped, other = add(cpus=1), add(cpus=1), add(cpus=1, minutes=900), add(cpus=1)
    session = qs.open_session(store, until_ms=int(time.time() * 1000) + 60_000, budget=None)
    qs.update_session(store, session, capacity={"CPU": 2.0, "GPU": 0.0})
    now = int(time.time() * 1000)
    qi.set_state(store, done, "done", "completed", session=session, started=now - 60_000, ended=now)
    qi.set_state(
        store, failed, "failed", "ValueError: boom", session=session, started=now - 30_000, ended=now
    )
    qi.save_log_tail(store, failed, "line 1\nidealoop: error: ValueError: boom")
    qi.set_state(store, skipped, "skipped", "deadline: needs ~900 min, 1 min left", session=session)
    report = build_report(store)
    assert report.session.id == session and report.still_queued == 1  # `other` waits for a later night
    assert {f.item.id: f.item.state for f in report.fates} == {
        done: "done",
        failed: "failed",
        skipped: "skipped",
    }
    assert report.usage["cpu_used"] == pytest.approx(1.5 / 60, rel=0.05)
    text = render(report)
    assert "ValueError: boom" in text and "log tail of" in text and "deadline: needs ~900 min" in text
    assert "1 done, 1 failed, 1 skipped" in text and other[:8] not in text
    assert ", 1.0 min" in text and ", 30 s" in text  # how long each ran, in seconds under a minute


def test_runs_the_queue_stopped_end_killed_with_the_queue_s_reason(store, make_idea):
    from tracker.runs import stage_run
    from tracker.store import TAG_END_REASON, TAG_QUEUE_ITEM, Target

    item = qi.add_item(store, idea_id=make_idea("d"), what="overfit", stage="overfit", task="digits")
    with pytest.raises(KeyboardInterrupt):
        with stage_run(Target(store), stage="overfit", extra_tags={TAG_QUEUE_ITEM: item}):
            raise KeyboardInterrupt  # what SIGTERM from `ray job stop` becomes
    left = store.client.create_run(store.experiment_id, tags={TAG_QUEUE_ITEM: item})  # a SIGKILLed one
    assert qs.end_item_runs(store, item, "deadline") == 2
    runs = qi.runs_of(store, item)
    assert {(r.info.status, r.data.tags[TAG_END_REASON]) for r in runs} == {("KILLED", "deadline")}
    assert left.info.run_id in {r.info.run_id for r in runs}


def test_until_is_a_clock_time_or_an_offset():
    now = time.mktime((2026, 11, 30, 22, 0, 0, 0, 0, -1))
    assert parse_until("+90s", now) == (now + 90) * 1000
    assert parse_until("+2h", now) == (now + 7200) * 1000
    assert parse_until("23:30", now) == (now + 5400) * 1000
    assert parse_until("07:00", now) == (now + 9 * 3600) * 1000  # tomorrow morning


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--stage", "baseline", "--sweep", "x.yaml"], "needs --stage NAME, --sweep SPACE.yaml or --climb"),
        ([], "needs --stage NAME, --sweep SPACE.yaml or --climb"),
        (["--climb", "--stage", "generalize"], "(one of them)"),
        (["--climb", "--set", "lr=0.1"], "a climb takes task, seed, seeds, device, not lr"),
        (["--climb", "--set", "seeds=0"], "seeds"),
        (["--climb", "--task", "nope"], "nope"),
        (["--stage", "bogus"], "--stage 'bogus' is not a stage"),
        (["--stage", "baseline", "--cpus", "0"], "cpus=0 is out of range"),
        (["--stage", "baseline", "--gpus", "-1"], "gpus=-1 is out of range"),
        (["--stage", "baseline", "--minutes", "soon"], "minutes='soon' is not a number"),
        (["--stage", "generalize", "--set", "epochs=0"], "epochs"),
        (["--stage", "baseline", "--task", "nope"], "nope"),
    ],
)
def test_bad_items_are_one_line_and_exit_2_with_nothing_queued(store, make_idea, capsys, args, says):
    idea = make_idea("bad")
    assert main(["queue", "add", "--idea", idea, *args]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("idealoop:")]
    assert len(err) == 1 and says in err[0], err
    assert qi.list_items(store) == []


@pytest.mark.parametrize(("until", "says"), [("25:00", "is not HH:MM"), ("+0s", "already past")])
def test_a_bad_deadline_is_refused_before_any_session_or_ray(store, capsys, until, says):
    assert main(["queue", "start", "--until", until]) == 2
    assert says in capsys.readouterr().err
    assert qs.sessions(store) == []


def test_a_climb_item_runs_the_ladder_tagged_with_the_item_and_reports_its_gates(store, make_idea, capsys):
    idea = make_idea("climber")
    assert main(["queue", "add", "--idea", idea, "--climb", "--set", "seed=1"]) == 0
    item = capsys.readouterr().out.strip()
    got = qi.get_item(store, item)
    assert (got.what, got.stage, got.task, got.overrides) == ("climb", "generalize", "digits", {"seed": "1"})
    assert main(["queue", "exec", item]) == 0
    made = capsys.readouterr().out.split()
    runs = {store.client.get_run(r).data.tags["idealoop.stage"]: store.client.get_run(r) for r in made}
    assert list(runs) == ["check", "baseline", "overfit", "generalize"]  # the ladder, in order
    assert all(r.data.tags[TAG_QUEUE_ITEM] == item and r.data.params["seed"] == "1" for r in runs.values())
    session = qs.open_session(store, until_ms=int(time.time() * 1000) + 60_000, budget=None)
    qi.set_state(store, item, "done", "completed", session=session, started=1, ended=2)
    line = next(ln for ln in render(build_report(store)).splitlines() if item[:8] in ln)
    assert "climb digits (to generalize)" in line and "overfit_few passed" in line


def test_a_climb_is_estimated_as_the_sum_of_its_rungs_once_each_has_history(store, make_idea):
    from tracker.queue_plan import START_MINUTES

    item = qi.get_item(store, qi.add_item(store, idea_id=make_idea("c"), what="climb", stage="generalize",
                                          task="digits"))  # fmt: skip
    assert qs.climb_stages("generalize") == ["check", "baseline", "overfit", "generalize"]
    assert qs.climb_stages("scale")[-1] == "scale"
    rungs = zip(qs.climb_stages("generalize"), [1.0, 2.0, 3.0, 4.0], strict=True)
    history = {("stage", s, "digits"): [minutes] for s, minutes in rungs}
    want = (10.0 + START_MINUTES, "sum of its 4 rungs' medians")
    assert qs.item_minutes(store, item, dict(history)) == want
    del history[("stage", "overfit", "digits")]  # a rung never run here: no sum to trust
    assert qs.item_minutes(store, item, dict(history))[1] == "default"
