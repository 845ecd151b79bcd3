"""`idealoop idea estimate|comment`, `--author`, the pooled ranking and `calibration --person`.

Several people give their own estimates of an idea; the idea's working estimate pools them
(`tracker.pooling`). Who is speaking: `--author`, else IDEALOOP_USER, else the tracking
server's user (MLFLOW_TRACKING_USERNAME), else the OS user (`tracker.records.author`).
"""

from __future__ import annotations

import datetime as dt
import json

from runners.cli.common import UsageError, say, store_of

ESTIMATES = ("hours", "complexity", "impact", "likelihood")


def add_arguments(isub, common, *, author_for: list, ranking: list, calibration) -> None:
    """The `estimate` and `comment` subcommands, `--author` on every writing command, the
    pooling flags on the ranking commands and `--person` on `calibration`."""
    est = isub.add_parser(
        "estimate", parents=[common], help="give your own estimates of an idea (others' are kept)"
    )
    est.add_argument("id", help="idea id (or a unique prefix of 6+ characters)")
    for name in ESTIMATES:
        est.add_argument(f"--{name}")
    est.add_argument("--note", help="why you think so")
    est.set_defaults(func=cmd_idea_estimate)
    com = isub.add_parser("comment", parents=[common], help="add a comment to an idea's thread")
    com.add_argument("id")
    com.add_argument("text", help="the comment (shown as plain text)")
    com.set_defaults(func=cmd_idea_comment)
    for sp in [*author_for, est, com]:
        sp.add_argument(
            "--author", help="who is speaking (env IDEALOOP_USER; else the server's user, else the OS user)"
        )
    for sp in ranking:
        sp.add_argument(
            "--weighted", action="store_true",
            help="weight each person's likelihood by their calibration record (from 5 decided ideas)",
        )  # fmt: skip
        sp.add_argument(
            "--extremize", type=float, default=1.0,
            help="multiply the pooled log-odds by this (0.5-3; default 1 = none)",
        )  # fmt: skip
    calibration.add_argument("--person", help="one person's calibration (names: `idealoop calibration`)")


def pool_settings(args, store):
    """The pooling the ranking commands were asked for (checked here: a bad factor is one line)."""
    from tracker.person_calibration import person_rows, person_weights
    from tracker.pooling import PoolSettings

    weights = person_weights(person_rows(store)) if getattr(args, "weighted", False) else {}
    try:
        return PoolSettings(weights=weights, extremize=getattr(args, "extremize", 1.0))
    except ValueError as exc:
        raise UsageError(f"--{exc}") from None


def cmd_idea_estimate(args) -> int:
    from tracker.ideas import update_idea

    given = {k: getattr(args, k) for k in ESTIMATES if getattr(args, k) is not None}
    if not given:
        raise UsageError("nothing to estimate: give at least one of --" + " --".join(ESTIMATES))
    rev = update_idea(store_of(args), args.id, changes=given, source="cli", note=args.note or "",
                      author=args.author)  # fmt: skip
    say(f"{rev.author}'s estimate of idea {args.id}: revision #{rev.number}")
    return 0


def cmd_idea_comment(args) -> int:
    from tracker.comments import add_comment

    c = add_comment(store_of(args), args.id, args.text, author=args.author)
    say(f"{c.author} commented on idea {args.id} (comment #{c.number})")
    return 0


def print_people(idea, comments: list) -> None:
    """`idea show`: each person's latest estimates, the spread and the pool; the comment thread."""
    from tracker.pooling import spreads

    if idea.people:
        print(f"\nestimates by person ({len(idea.people)}):")
        for person, values in idea.people.items():
            shown = ", ".join(f"{k} {values[k]:g}" for k in ESTIMATES if k in values)
            print(f"  {person:<16} {shown}")
        by_field = {f: {p: v[f] for p, v in idea.people.items() if f in v} for f in ESTIMATES}
        for name, spread in spreads(by_field).items():
            if spread.n > 1:
                print(f"  spread {name:<10} {spread.describe(name)}   pooled {getattr(idea, name):.3g}")
        if idea.disagreement == idea.disagreement:
            print(f"  their own scores differ {idea.disagreement:.2g}x")
    if comments:
        print(f"\ncomments ({len(comments)}):")
        for c in comments:
            when = dt.datetime.fromtimestamp(c.time_ms / 1000).strftime("%Y-%m-%d %H:%M")
            print(f"  {when}  {c.author}: {' '.join(c.text.split())}")


def person_calibration(args) -> int:
    """`idealoop calibration --person NAME`."""
    from tracker.person_calibration import describe_person, people_of, person_rows, person_summary

    rows = person_rows(store_of(args))
    known = people_of(rows)
    if args.person not in known:
        names = ", ".join(known) or "nobody yet"
        raise UsageError(f"no decided idea with a likelihood from {args.person!r}; people: {names}")
    s = person_summary(rows, args.person)
    if args.json:
        mine = [r for r in rows if r["person"] == args.person]
        clean = {k: None if isinstance(v, float) and v != v else v for k, v in s.items()}
        print(json.dumps({"ideas": mine, **clean}, indent=2, default=str))
        return 0
    lines = describe_person(s)
    for name in ("decided", "brier", "weight", "planning_factor", "impact_ratio"):
        print(lines[name])
    for row in s["reliability_bins"]:
        print(f"  likelihood {row['bin']}: said {row['predicted']:.2f}, happened {row['observed']:.2f} "
              f"({row['count']} ideas)")  # fmt: skip
    for row in s["by_category"]:
        print(f"  category {row['category'] or '—'}: {row['decided']} ideas, Brier {row['brier']:.3f}")
    return 0


def print_people_table(rows: list[dict]) -> None:
    """The team's `calibration` ends with one line per person."""
    from tracker.person_calibration import people_table

    table = people_table(rows)
    if table:
        print("\npeople (`--person NAME` for one):")
    for t in table:
        print(f"  {t['person']:<16} {t['decided']:>3} decided  Brier {t['brier']:.3f}  "
              f"weight {t['weight']:.2f}")  # fmt: skip
