"""`idealoop demo`: a first board full of ideas, and one idea taken through stage_overfit.

The ideas are the standard checklist every researcher should consider (from the
method's source article), with plausible estimates for the `digits` task. Running
the demo twice adds nothing twice: ideas are matched by title.
"""

from __future__ import annotations

import sys

from runners.config import OverfitConfig
from tracker.estimates import Estimates
from tracker.ideas import add_idea, list_ideas
from tracker.runs import stage_run
from tracker.store import Store

# (title, category, hours, complexity, impact, likelihood, description)
CHECKLIST = [
    (
        "Non-deep-learning baseline (logistic regression)",
        "baseline",
        1,
        1,
        0.01,
        0.6,
        "Make sure deep learning is needed at all: a scikit-learn model on the same split.",
    ),
    (
        "Tune learning rate and initialization",
        "optimization",
        2,
        1,
        0.02,
        0.5,
        "Try other optimizers, learning rates and parameter initializations.",
    ),
    (
        "Per-class evaluation and confusion matrix",
        "evaluation",
        3,
        2,
        0.005,
        0.7,
        "Build out more detailed evaluation: per-class F1, slices, confusion matrix.",
    ),
    (
        "More data for the weakest digits",
        "data",
        16,
        2,
        0.03,
        0.3,
        "Collect or synthesise extra samples for the classes the model confuses most.",
    ),
    (
        "Convolutional layers for local stroke features",
        "architecture",
        6,
        3,
        0.03,
        0.4,
        "Layers that encode domain knowledge: translation-equivariant convolutions.",
    ),
    (
        "Bigger model / different backbone",
        "architecture",
        4,
        2,
        0.015,
        0.35,
        "Increase width and depth, or swap the backbone.",
    ),
    (
        "Curriculum: easy digits first",
        "curriculum",
        8,
        4,
        0.01,
        0.15,
        "Simplify the task for the network with a curriculum or extra supervision.",
    ),
]
DEMO_IDEA = "Tune learning rate and initialization"


def run_demo(store: Store, *, progress: bool = True) -> int:
    say = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
    say(f"idealoop demo: project {store.project!r} in {store.uri}")
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
            extra_tags={"idealoop.demo": "true"},
        )
        added += 1
    say(f"  {added} ideas added ({len(CHECKLIST) - added} already there)")

    from runners.overfit import run_overfit  # torch import: only now

    idea_id = existing[DEMO_IDEA]
    say(f"  running stage_overfit for {DEMO_IDEA!r} ({idea_id})")
    with stage_run(store, stage="overfit", idea_id=idea_id, run_name="stage_overfit") as run:
        results = run_overfit(OverfitConfig(), run, progress=progress)
    say("")
    for i, idea in enumerate(list_ideas(store), 1):
        say(f"  {i}. {idea.title}  (score {idea.score:.3g}, {len(idea.run_ids)} runs)")
    ok = all(r.passed for r in results)
    say(f"\nstage_overfit {'passed both gates' if ok else 'FAILED a gate'}: run {run.run_id}")
    say("Next:")
    say(f"  idealoop idea show {idea_id}      # the idea, its revisions and runs")
    say("  idealoop board                     # the idea board, http://127.0.0.1:8501")
    say(f"  mlflow ui --backend-store-uri {store.uri}   # the runs in MLflow's UI")
    print(idea_id)
    return 0
