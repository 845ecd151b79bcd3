"""`idealoop idea ...` and `idealoop calibration`: ideas, their revisions, outcomes and calibration.

Results on stdout (an id alone, a table, or JSON with --json); messages on stderr.
"""

from __future__ import annotations

import datetime as dt
import json

from runners.cli.common import UsageError, say, store_of
from runners.cli.people import pool_settings, print_people, print_people_table


def _fmt_time(ms: int | None) -> str:
    if not ms:
        return "-"
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


# -- idea ---------------------------------------------------------------------
def cmd_idea_add(args) -> int:
    from tracker.estimates import Estimates
    from tracker.ideas import add_idea

    est = Estimates.parse(
        hours=args.hours, complexity=args.complexity, impact=args.impact, likelihood=args.likelihood
    )
    store = store_of(args)
    idea_id = add_idea(
        store, args.title, est, category=args.category, description=args.description, source="cli",
        author=args.author,
    )  # fmt: skip
    say(f"added idea {idea_id} ({args.title!r}, score {est.score:.4g}) to project {store.project!r}")
    print(idea_id)
    return 0


def cmd_idea_list(args) -> int:
    from tracker.estimates import DECIDED, check_status
    from tracker.ideas import list_ideas

    if args.status:
        check_status(args.status)  # a typo must not read as "no ideas yet"
    store = store_of(args)
    pool = pool_settings(args, store)
    if args.calibrated:
        from tracker.calibration import calibrated_ideas

        ideas = calibrated_ideas(store, pool=pool)
    else:
        ideas = list_ideas(store, pool=pool)
    if args.status:  # an explicit status is shown even when decided
        ideas = [i for i in ideas if i.status == args.status]
    hidden = 0
    if not args.status and not args.all:  # decided ideas leave the ranking: it answers "what next?"
        kept = [i for i in ideas if i.status not in DECIDED]
        hidden, ideas = len(ideas) - len(kept), kept
    if args.json:
        print(json.dumps([i.as_dict() for i in ideas], indent=2))
        return 0
    if not ideas and args.status:
        say(f"no idea has status {args.status!r}")
        return 0
    if not ideas and hidden:
        say(f"every idea is decided ({hidden}): `idealoop idea list --all` shows them")
        return 0
    if not ideas:
        say("no ideas yet: add one with `idealoop idea add --title ... --hours ... ...`")
        return 0
    head = (
        f"{'#':>3} {'score':>9}  {'title':<36} {'hours':>6} {'cx':>3} {'impact':>8} {'p':>5}  "
        f"{'status':<11} {'runs':>4}  id"
    )
    print(head)
    for rank, i in enumerate(ideas, 1):
        title = i.title if len(i.title) <= 36 else i.title[:35] + "…"
        print(
            f"{rank:>3} {i.score:>9.4g}  {title:<36} {i.hours:>6g} {i.complexity:>3} "
            f"{i.impact:>8.4g} {i.likelihood:>5.2f}  {i.status:<11} {len(i.run_ids):>4}  {i.id}"
        )
    if hidden:
        say(
            f"{hidden} decided idea{'' if hidden == 1 else 's'} (succeeded/failed) not ranked: "
            "--all shows them"
        )
    return 0


def cmd_idea_show(args) -> int:
    from tracker.comments import list_comments
    from tracker.estimates import score_breakdown
    from tracker.ideas import get_idea
    from tracker.runs import describe_run

    store = store_of(args)
    idea, revisions, runs = get_idea(store, args.id, pool=pool_settings(args, store))
    comments = list_comments(store, idea.id)
    runs = [describe_run(r) for r in runs]
    if args.json:
        out = idea.as_dict()
        out["disagreement"] = None if idea.disagreement != idea.disagreement else idea.disagreement
        out["revisions"] = [r.__dict__ for r in revisions]
        out["comments"] = [c.__dict__ for c in comments]
        out["runs"] = runs
        out["score_breakdown"] = score_breakdown(idea.hours, idea.complexity, idea.impact, idea.likelihood)
        print(json.dumps(out, indent=2))
        return 0
    b = score_breakdown(idea.hours, idea.complexity, idea.impact, idea.likelihood)
    print(f"{idea.title}  [{idea.status}]  id {idea.id}")
    if idea.category:
        print(f"category: {idea.category}")
    if idea.description:
        print(idea.description)
    print(
        f"estimates: {idea.hours:g} h, complexity {idea.complexity}, impact {idea.impact:g}, "
        f"likelihood {idea.likelihood:g}"
    )
    print(
        f"score {b['score']:.4g} = expected gain {b['expected_gain']:.4g} / "
        f"{b['effective_hours']:.4g} effective hours (complexity x{b['complexity_factor']:g})"
    )
    print(f"\nrevisions ({len(revisions)}):")
    for r in revisions:
        changes = ", ".join(
            f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in r.changes.items()
        )
        print(f"  #{r.number}  {_fmt_time(r.time_ms)}  {r.source}/{r.author}  {changes}  {r.note}")
    print_people(idea, comments)
    print(f"\nruns ({len(runs)}):")
    ids = {r["id"] for r in runs}
    for r in runs:  # a sweep's trials are listed under it
        if r["kind"] == "trial" and r["parent_id"] in ids:
            continue
        for depth, row in [(0, r)] + [
            (1, t) for t in runs if t["kind"] == "trial" and t["parent_id"] == r["id"]
        ]:
            gates = " ".join(f"{k}={v}" for k, v in row["gates"].items())
            why = row["end_reason"] + (f"@{row['asha_iteration']}" if row["asha_iteration"] else "")
            best = f"best trial {row['best_trial']}" if row["best_trial"] else ""
            print(f"  {'  ' * depth}{row['id']}  {row['kind']:<6} {row['stage']:<10} {row['status']:<9} "
                  f"{why:<18} {gates}{best}")  # fmt: skip
    return 0


def cmd_idea_update(args) -> int:
    from tracker.ideas import update_idea

    changes = {k: getattr(args, k) for k in ("hours", "complexity", "impact", "likelihood")}
    given = {k: v for k, v in changes.items() if v is not None}
    if not given and all(getattr(args, k) is None for k in ("status", "title", "category", "description")):
        raise UsageError(
            "nothing to update: give at least one of --hours --complexity --impact "
            "--likelihood --status --title --category --description"
        )
    rev = update_idea(
        store_of(args),
        args.id,
        changes=given,
        status=args.status,
        title=args.title,
        category=args.category,
        description=args.description,
        source="cli",
        note=args.note or "",
        author=args.author,
    )
    say(f"updated idea {args.id}" + (f" (revision #{rev.number})" if rev else ""))
    return 0


def cmd_idea_outcome(args) -> int:
    from tracker.estimates import check_field
    from tracker.outcomes import accept, assess

    if args.hours is not None:
        check_field("hours", args.hours)  # hours a person spent: > 0, never guessed from the runs
    store = store_of(args)
    a = assess(store, args.id, reference=args.reference, threshold=args.threshold, logged_hours=args.hours)
    if args.json and not args.accept:
        print(json.dumps(a.as_dict(), indent=2))
        return 0
    ev = a.evidence
    if a.proposal is None:
        if ev.best is None:
            why, fix = (
                "no finished generalize/scale run or trial",
                f"idealoop run generalize --idea {args.id}",
            )
        else:
            why, fix = (
                f"nothing to compare with on task {ev.task or '?'}",
                f"idealoop run baseline --idea {args.id}",
            )
        raise UsageError(f"cannot judge idea {args.id} yet: {why} (run `{fix}`)")
    if args.json:  # with --accept: write, then the assessment and the new revision's number
        number = accept(store, args.id, a, author=args.author)
        print(json.dumps({**a.as_dict(), "accepted_revision": number}, indent=2))
        return 0
    print_assessment(a)
    if args.accept:
        number = accept(store, args.id, a, author=args.author)
        say(f"accepted: revision #{number} (source evidence)")
    else:
        say("not written: add --accept to append these estimates as a revision")
    return 0


def print_assessment(a) -> None:
    """An assessment with a proposal, as `idea outcome` and `climb` print it (stdout)."""
    ev, v, p, cur = a.evidence, a.verdict, a.proposal, a.current
    print(f"evidence: best val {ev.target} {ev.best:.4g} (run {ev.best_run}) vs {ev.reference_kind} "
          f"{ev.reference:.4g} (run {ev.reference_run}) over {len(ev.run_values)} runs")  # fmt: skip
    print(f"verdict:  {v.verdict}  gain {v.impact:+.4g}, needed {v.margin:.4g} (seed noise {v.noise:.3g})")
    print("proposal:")
    print(f"  likelihood {cur['likelihood']:.3g} -> {p.likelihood:.3g}   ({p.reasons['likelihood']})")
    if p.impact is not None:
        print(f"  impact     {cur['impact']:.4g} -> {p.impact:.4g}   ({p.reasons['impact']})")
    if p.hours is not None:
        print(f"  hours      {cur['hours']:g} -> {p.hours:g}   ({p.reasons['hours']})")
    else:
        print(f"  hours      {cur['hours']:g} kept   ({p.reasons['hours']}; --hours H logs them)")
    print(f"  status     {cur['status']} -> {p.status}")


def cmd_calibration(args) -> int:
    from tracker.calibration import calibration_summary, calibration_table, describe

    if args.person:
        from runners.cli.people import person_calibration

        return person_calibration(args)
    rows = calibration_table(store_of(args))
    summary = calibration_summary(rows)
    if args.json:  # strict JSON: a number without data (no decided ideas yet) is null, not NaN
        clean = {k: None if isinstance(v, float) and v != v else v for k, v in summary.items()}
        print(json.dumps({"ideas": rows, **clean}, indent=2, default=str))
        return 0
    if not summary["decided"]:
        say("no decided ideas yet: `idealoop idea outcome ID --accept` records an idea's verdict")
        return 0
    lines = describe(summary)
    for name in ("decided", "hit_rate", "brier", "brier_calibrated", "likelihood", "planning_factor"):
        print(lines[name])
    for row in summary["reliability"]:
        print(f"  likelihood {row['bin']}: said {row['predicted']:.2f}, happened {row['observed']:.2f} "
              f"({row['count']} ideas)")  # fmt: skip
    from tracker.person_calibration import person_rows

    print_people_table(person_rows(store_of(args)))
    return 0
