"""`idealoop demo`: a first board full of ideas, the baseline, and one idea up the ladder.

The baseline idea gets its `baseline` run (the score to beat); the learning-rate idea
climbs from stage 0, `stage_check`, through `stage_overfit` to `stage_generalize`, so the
board has gates, curves, histograms and samples to show, and `idealoop idea outcome` has evidence to judge.

The ideas are the standard checklist every researcher should consider (from the
method's source article), with plausible estimates for the `digits` task. Running
the demo twice adds nothing twice: ideas are matched by title.
"""

from __future__ import annotations

import sys

from tracker.checklist import CHECKLIST
from tracker.estimates import Estimates
from tracker.ideas import add_idea, list_ideas
from tracker.redaction import redact_uri
from tracker.store import TAG_DEMO, Store, Target

DEMO_IDEA = "Tune learning rate and initialization"
BASELINE_IDEA = "Non-deep-learning baseline (logistic regression)"


def run_demo(store: Store, *, progress: bool = True) -> int:
    say = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
    say(f"idealoop demo: project {store.project!r} in {redact_uri(store.uri)}")
    existing = {i.title: i.id for i in list_ideas(store)}
    added = 0
    items = CHECKLIST
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(CHECKLIST, desc="adding ideas", unit="idea", leave=False, file=sys.stderr)
    for title, category, hours, cx, impact, p, desc in items:
        if title in existing:
            continue
        est = Estimates.parse(hours=hours, complexity=cx, impact=impact, likelihood=p)
        existing[title] = add_idea(
            store,
            title,
            est,
            category=category,
            description=desc,
            source="demo",
            extra_tags={TAG_DEMO: "true"},
        )
        added += 1
    say(f"  {added} ideas added ({len(CHECKLIST) - added} already there)")

    from runners.stages import STAGES  # torch import: only now
    from runners.stages.run import run_stage

    # Stage 0 first: the model's isolated checks, before any training.
    plan = [(DEMO_IDEA, "check"), (BASELINE_IDEA, "baseline"), (DEMO_IDEA, "overfit")]
    plan += [(DEMO_IDEA, "generalize")]
    gates = {}
    for title, name in plan:
        stage, idea_id = STAGES[name], existing[title]
        say(f"  {stage.entry_point} for {title!r} ({idea_id})")
        cfg = stage.config()
        target = Target(store, idea_id)  # a full id: the demo added or listed it itself
        gates.update(run_stage(target, stage, cfg, progress=progress).gates)  # as `idealoop run` runs it
    say("")
    for i, idea in enumerate(list_ideas(store), 1):
        runs = f"{len(idea.run_ids)} run" + ("" if len(idea.run_ids) == 1 else "s")
        say(f"  {i}. {idea.title}  (score {idea.score:.3g}, {runs})")
    say("\ngates: " + ", ".join(f"{k} {v}" for k, v in gates.items()))
    idea_id = existing[DEMO_IDEA]
    say("Next:")
    say(f"  idealoop idea show {idea_id}      # the idea, its revisions and runs")
    say(f"  idealoop idea outcome {idea_id}   # what the evidence says about its estimates")
    say("  idealoop board                     # the idea board, http://127.0.0.1:8501")
    say(f"  mlflow ui --backend-store-uri {redact_uri(store.uri)}   # the runs in MLflow's UI")
    print(idea_id)
    return 0
