"""The board's cached reads: thin `st.cache_data` wrappers over `tracker/` functions.

Every function takes (project, uri) first so the cache never mixes stores. TTLs are
short (a few seconds) because runs change while the board is open; curves of a
finished run never change, so their cache key includes the run's end time and they
can live longer.
"""

from __future__ import annotations

from urllib.parse import quote

import pandas as pd
import streamlit as st

from board.common import LIVE_TTL_S
from board.curve_prep import epoch_knots, step_to_epoch
from tracker import artifacts, curve_axes, curves, keys, outcomes, queries
from tracker import calibration as calib
from tracker.comments import list_comments
from tracker.estimates import best_first, score_breakdown
from tracker.ideas import get_idea
from tracker.person_calibration import person_rows, person_weights
from tracker.pooling import PoolSettings
from tracker.store import Store


@st.cache_data(ttl=5, show_spinner=False)
def ideas_frame(project: str, uri: str, calibrated: bool = False, weighted: bool = False) -> pd.DataFrame:
    """Ranked ideas (all of them, decided ones too), one row each, with the parts of the score
    (optionally calibrated; people's likelihoods optionally weighted by their records) and
    `link`: the idea page's URL ending in `#<title>`, which the Ideas page shows as the title (a
    LinkColumn displays the part after `#`, URL-decoded)."""
    rows = []
    pool = PoolSettings(weights=person_weights(people_rows(project, uri))) if weighted else None
    ranked = queries.ranked_ideas(Store(project=project, uri=uri), pool)
    if calibrated:
        summary = calibration(project, uri)[1]
        ranked = best_first(((calib.calibrate(i, summary), n) for i, n in ranked), lambda p: p[0].score)
    for rank, (i, n_runs) in enumerate(ranked, 1):
        b = score_breakdown(i.hours, i.complexity, i.impact, i.likelihood)
        rows.append(
            {
                "rank": rank,
                "title": i.title,
                "score": i.score,
                "expected gain": b["expected_gain"],
                "effective hours": b["effective_hours"],
                "hours": i.hours,
                "complexity": i.complexity,
                "impact": i.impact,
                "likelihood": i.likelihood,
                "status": i.status,
                "category": i.category,
                "runs": n_runs,
                "link": f"idea?id={i.id}#{quote(i.title, safe='')}",
                "id": i.id,
                "description": i.description,
                "people": len(i.people),
                "disagreement": i.disagreement,
            }
        )
    columns = ["rank", "title", "score", "expected gain", "effective hours", "hours", "complexity"]
    columns += ["impact", "likelihood", "status", "category", "runs", "link", "id", "description"]
    columns += ["people", "disagreement"]
    return pd.DataFrame(rows, columns=columns)


@st.cache_data(ttl=5, show_spinner=False)
def calibration(project: str, uri: str) -> tuple[list[dict], dict]:
    """Decided ideas (what was predicted, what happened) and the team's calibration summary."""
    rows = calib.calibration_table(Store(project=project, uri=uri))
    return rows, calib.calibration_summary(rows)


@st.cache_data(ttl=5, show_spinner=False)
def people_rows(project: str, uri: str) -> list[dict]:
    """Each person's forecasts on decided ideas (`tracker.person_calibration.person_rows`)."""
    return person_rows(Store(project=project, uri=uri))


@st.cache_data(ttl=LIVE_TTL_S, show_spinner=False)
def comments(project: str, uri: str, idea_id: str) -> list:
    """An idea's comment thread, oldest first."""
    return list_comments(Store(project=project, uri=uri), idea_id)


@st.cache_data(ttl=LIVE_TTL_S, show_spinner=False)
def assessment(project: str, uri: str, idea_id: str, reference: str, threshold: float, hours: float | None):
    """Evidence, verdict and proposed estimates for one idea (nothing written)."""
    return outcomes.assess(
        Store(project=project, uri=uri), idea_id, reference=reference, threshold=threshold, logged_hours=hours
    )


@st.cache_data(ttl=LIVE_TTL_S, show_spinner=False)
def idea(project: str, uri: str, idea_id: str):
    """(Idea, revisions, runs as RunRow) for one idea."""
    store = Store(project=project, uri=uri)
    found, revisions, _ = get_idea(store, idea_id)
    return found, revisions, queries.idea_runs(store, found.id)


@st.cache_data(ttl=LIVE_TTL_S, show_spinner=False)
def project_runs(project: str, uri: str):
    return queries.project_runs(Store(project=project, uri=uri))


@st.cache_data(ttl=LIVE_TTL_S, show_spinner=False)
def run_row(project: str, uri: str, run_id: str) -> queries.RunRow:
    return queries.get_run_row(Store(project=project, uri=uri), run_id)


@st.cache_data(ttl=60, show_spinner=False, max_entries=200)
def curve(project: str, uri: str, run_id: str, key: str, end_time: int) -> tuple[pd.DataFrame, int]:
    """A downsampled curve as a frame (step, value), and how many points were logged.

    `end_time` is part of the key: 0 while the run is going (then the entry expires
    with the short TTL of the caller's reruns), fixed once it ended.
    """
    return _curve_frame(project, uri, run_id, key)


def _curve_frame(project: str, uri: str, run_id: str, key: str) -> tuple[pd.DataFrame, int]:
    c = curves.read_curve(Store(project=project, uri=uri), run_id, key)
    return pd.DataFrame({"step": c.steps, "value": c.values}), c.total_points


def live_curve(project: str, uri: str, run: queries.RunRow, key: str) -> tuple[pd.DataFrame, int]:
    """A curve of a run that may still be going: re-read at most every LIVE_TTL_S seconds."""
    if run.running:
        return _running_curve(project, uri, run.id, key)
    return curve(project, uri, run.id, key, run.end_time)


@st.cache_data(ttl=LIVE_TTL_S, show_spinner=False)
def _running_curve(project: str, uri: str, run_id: str, key: str) -> tuple[pd.DataFrame, int]:
    return _curve_frame(project, uri, run_id, key)


@st.cache_data(ttl=LIVE_TTL_S, show_spinner=False)
def timing(project: str, uri: str, run_id: str) -> dict[str, curves.Summary]:
    store = Store(project=project, uri=uri)
    timed = (keys.TIME_DATA, keys.TIME_COMPUTE, keys.THROUGHPUT)
    return {k: curves.summarize(store, run_id, k) for k in timed}


@st.cache_data(ttl=30, show_spinner=False, max_entries=50)
def histograms(project: str, uri: str, run_id: str, end_time: int) -> list[dict]:
    return artifacts.load_histograms(Store(project=project, uri=uri), run_id)


@st.cache_data(ttl=30, show_spinner=False)
def sample_epochs(project: str, uri: str, run_id: str, end_time: int) -> list[int]:
    return artifacts.sample_epochs(Store(project=project, uri=uri), run_id)


@st.cache_data(ttl=300, show_spinner=False, max_entries=100)
def samples(project: str, uri: str, run_id: str, epoch: int) -> dict:
    return artifacts.load_samples(Store(project=project, uri=uri), run_id, epoch)


def is_per_class(key: str) -> bool:
    """`val/<metric>/<class>` (val/f1/3, val/iou/road): one value per class, not a run-level metric."""
    return key.startswith(keys.VAL_PREFIX) and "/" in key[len(keys.VAL_PREFIX) :]


def per_class(project: str, uri: str, run: queries.RunRow) -> pd.DataFrame:
    """A run's per-class metrics: one row per (epoch, metric, class) with its value.

    The one place the board reads per-class values: the run's `metrics/per_class.jsonl`
    artifact (`tracker.artifacts.load_per_class`); a run made before that file existed
    carries them as `val/<metric>/<class>` metric keys, placed on epochs through the
    `epoch` curve. `metric` is the name without `val/` (f1, iou).
    """
    columns = [keys.EPOCH, "metric", "class", "value"]
    rows = _per_class_rows(project, uri, run.id, 0 if run.running else run.end_time)
    if rows:
        frame = pd.DataFrame(rows)
        frame["metric"] = frame["metric"].str.removeprefix(keys.VAL_PREFIX)
        frame["class"] = frame["class"].astype(str)
        return frame[columns]  # the file's "epoch" column is keys.EPOCH
    wanted = sorted(k for k in run.metrics if is_per_class(k))
    knots = epoch_knots(live_curve(project, uri, run, keys.EPOCH)[0]) if wanted else None
    if knots is None:
        return pd.DataFrame(columns=columns)
    frames = []
    for key in wanted:
        metric, cls = key[len(keys.VAL_PREFIX) :].split("/", 1)
        df, _ = live_curve(project, uri, run, key)
        frames.append(
            pd.DataFrame(
                {
                    keys.EPOCH: step_to_epoch(df["step"], knots),
                    "metric": metric,
                    "class": cls,
                    "value": df["value"],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)[columns]


@st.cache_data(ttl=LIVE_TTL_S, show_spinner=False, max_entries=50)
def _per_class_rows(project: str, uri: str, run_id: str, end_time: int) -> list[dict]:
    return artifacts.load_per_class(Store(project=project, uri=uri), run_id)


def axis_curve(project: str, uri: str, run: queries.RunRow, key: str) -> tuple[pd.DataFrame, int]:
    """A curve with its x axes (step, epoch, time in s) as a frame, and how many points were
    logged; `epoch` is NaN where the run logs no epochs. Re-read while the run is going."""
    if run.running:
        return _running_axis_curve(project, uri, run.id, key, run.start_time)
    return _axis_curve(project, uri, run.id, key, run.start_time, run.end_time)


@st.cache_data(ttl=60, show_spinner=False, max_entries=200)
def _axis_curve(project: str, uri: str, run_id: str, key: str, start: int, end_time: int):
    return _axis_frame(project, uri, run_id, key, start)


@st.cache_data(ttl=LIVE_TTL_S, show_spinner=False)
def _running_axis_curve(project: str, uri: str, run_id: str, key: str, start: int):
    return _axis_frame(project, uri, run_id, key, start)


def _axis_frame(project: str, uri: str, run_id: str, key: str, start: int) -> tuple[pd.DataFrame, int]:
    c = curve_axes.read_axis_curve(Store(project=project, uri=uri), run_id, key, start)
    epochs = c.epochs if c.epochs is not None else [float("nan")] * len(c.steps)
    return pd.DataFrame(
        {"step": c.steps, "value": c.values, keys.EPOCH: epochs, "time": c.seconds}
    ), c.total_points


@st.cache_data(ttl=LIVE_TTL_S, show_spinner=False)
def running(project: str, uri: str):
    """The project's RUNNING stage runs, sweeps and trials, whoever started them (`board.jobs.Live`)."""
    from board.jobs import running_runs  # board.jobs starts processes; only the Launch page needs it

    return running_runs(Store(project=project, uri=uri))
