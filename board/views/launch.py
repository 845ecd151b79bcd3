"""Launch: run a stage, a sweep or a whole climb for an idea from the board, watch what runs, cancel it.

The idea and the stage are picked outside the form, so the form's config inputs follow
the stage: each key of the stage's config, typed, prefilled with its default and labelled
with what is allowed (`board.launch_form`). Only the keys changed from their defaults
become `--set` overrides, checked as the CLI checks them before anything starts. A sweep
shows its own settings: the stage its trials run, the search space, how many configs,
epochs per trial and trials at once. A climb (`idealoop climb`) takes no config keys (each rung
runs its own defaults): seeds, and an optional space file to sweep after the ladder.

The stage runs in a background process (`board.jobs`), so this page stays responsive.
Below the form, a polling fragment lists everything RUNNING in the project, whoever
started it, with a live loss curve each (`board.launch_jobs`); the run a stage creates is
nested under its idea, so it also appears on the idea's page.
"""

from __future__ import annotations

import streamlit as st

from board import data, jobs, launch_form, launch_jobs
from board.common import read_or_stop, store
from runners.tasks.base import BUILTIN_TASKS
from tracker.store import Target

s = store()
st.title("Launch a stage or a sweep")
ideas = read_or_stop("ideas", data.ideas_frame, s.project, s.uri)
if ideas.empty:
    st.info("No ideas yet: add one on the Ideas page, or run `idealoop demo`.")
    st.stop()
titles = dict(zip(ideas["id"], ideas["title"], strict=True))
ids = list(ideas["id"])
wanted = st.query_params.get("id")
stages = list(jobs.STAGES)
wanted_stage = st.query_params.get("stage", "overfit")  # deep link: /launch?id=ID&stage=NAME

pick_idea, pick_stage, pick_trials = st.columns([3, 4, 2])
idea_id = pick_idea.selectbox(
    "Idea", ids, index=ids.index(wanted) if wanted in ids else 0, format_func=lambda i: titles[i]
)
stage = pick_stage.selectbox(
    "Stage",
    stages,
    index=stages.index(wanted_stage) if wanted_stage in stages else 0,
    format_func=lambda k: jobs.STAGES[k][0],
)
sweep, climb = stage == "tune", stage == "climb"
trial_stage = ""
if sweep:
    trial_stage = pick_trials.selectbox(
        "Trials run", jobs.SWEEP_STAGES, help="the stage every trial of the sweep runs (`tune --stage`)"
    )
config = jobs.config_class(stage, trial_stage)
keys = [] if climb else launch_form.offered(config, skip=("task", "epochs") if sweep else ("task",))
scope = f"{stage}_{trial_stage}" if sweep else stage

with st.form("launch"):
    task = st.selectbox(
        "Task",
        BUILTIN_TASKS,
        accept_new_options=True,
        help="a built-in task, or type your own as package.module:function",
    )
    if sweep:
        st.markdown("**Sweep settings** (`idealoop tune`)")
        space_col, samples_col, epochs_col, concurrent_col = st.columns([3, 2, 2, 2])
        space = space_col.text_input(
            "Search space file", value=jobs.DEFAULT_SPACE, help="YAML: key → distribution (`--space`)"
        )
        samples = samples_col.number_input(
            "Configs to sample",
            min_value=1,
            max_value=256,
            value=jobs.SWEEP_SAMPLES,
            help="`--num-samples`: each grid point counts once per sample",
        )
        iterations = epochs_col.number_input(
            "Epochs per trial",
            min_value=1,
            max_value=1000,
            value=int(config.epochs),
            help="`--max-iterations`: epochs of a trial ASHA never stops",
        )
        concurrent = concurrent_col.number_input(
            "Max concurrent trials",
            min_value=1,
            max_value=64,
            value=jobs.SWEEP_CONCURRENT,
            help="`--max-concurrent`: trials running at once",
        )
        st.markdown(
            f"**Fixed for every trial** — the `{trial_stage}` config; the space's keys vary per trial"
        )
    elif climb:
        st.markdown(
            "**The whole ladder** (`idealoop climb`): check → baseline (the project's, when one finished) "
            "→ overfit → generalize, each with its own defaults, stopping at the first failed gate; then, "
            "with a space file, a sweep; then the verdict, waiting on the Idea page."
        )
        seeds_col, space_col, samples_col, concurrent_col = st.columns([2, 3, 2, 2])
        seeds = seeds_col.number_input(
            "Seeds per run", min_value=1, max_value=64, value=1, help="`--seeds`: packed, gates on the mean"
        )
        space = space_col.text_input(
            "Then sweep this space (optional)",
            placeholder="e.g. examples/space.yaml",
            help="`--space`: empty, no sweep",
        )
        samples = samples_col.number_input(
            "Configs to sample", min_value=1, max_value=256, value=jobs.SWEEP_SAMPLES
        )
        concurrent = concurrent_col.number_input(
            "Max concurrent trials", min_value=1, max_value=64, value=jobs.SWEEP_CONCURRENT
        )
        iterations = 0
    else:
        space, samples, iterations, concurrent = "", 0, 0, 0
        st.markdown(f"**Config of {jobs.STAGES[stage][0].split(':')[0]}** — defaults shown")
    if not climb:
        st.caption("Change a value to override it: only changed keys are passed, as `--set KEY=VALUE`.")
    values = launch_form.key_inputs(keys, scope)
    extra = "" if climb else st.text_input(
        "Other overrides (optional)",
        placeholder="task-specific or advanced: key=value, key=value",
        help="KEY=VALUE, comma-separated; added after the keys above",
        key="other_overrides",
    )  # fmt: skip
    go = st.form_submit_button("Launch", type="primary")
st.caption(
    "The stages of `idealoop run --help`, climbed in order: check → baseline → overfit → generalize → "
    "scale; "
    "a sweep (`idealoop tune`) runs the idea's variants as concurrent trials; a climb runs them all."
)
if go:
    try:
        overrides = launch_form.changed(keys, values) + jobs.parse_overrides(extra)
        jobs.launch(
            stage,
            Target(s, idea_id),  # a full id: the selectbox lists the store's own ideas
            overrides=overrides,
            task=task or "",
            space=space,
            samples=int(samples),
            iterations=int(iterations),
            concurrent=int(concurrent),
            sweep_stage=trial_stage,
            seeds=int(seeds) if climb else 0,
        )
    except jobs.LaunchError as exc:
        st.error(str(exc))
    else:
        data.running.clear()  # the new job's run shows on the next poll, not after the cache expires

poll = launch_jobs.POLL_S if launch_jobs.busy(s) else launch_jobs.IDLE_POLL_S
st.fragment(launch_jobs.render, run_every=poll)(s, titles)
