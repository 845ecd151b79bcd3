"""Seeds as a band on the Idea page's curves, for a run that trained several seeds packed.

Such a run (`seeds` > 1) logs the mean over its seeds under the usual keys, the std
across them as `val_std/<metric>` per epoch, and each seed's own curves in a seed run
nested under it (docs/telemetry.md). The Curves tab draws:
- per epoch: the mean line with a band of mean ± std behind it (from the run alone);
- per batch: the mean's train and val loss with a band from the lowest to the highest
  seed behind each, bucketed by step (each seed's curve is downsampled on its own, so
  their steps need not coincide).
Frames here are pure pandas; `band_layer` is the Altair layer both charts put behind
their lines.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from board import data
from board.curve_prep import step_to_epoch
from tracker import keys, queries
from tracker.seed_runs import find_seed_runs
from tracker.store import Store

BUCKETS = 300  # step buckets of the per-batch band: about what a chart can show


@st.cache_data(ttl=30, show_spinner=False)
def seed_run_ids(project: str, uri: str, run_id: str, end_time: int) -> dict[int, str]:
    """seed -> its seed run under a run, in seed order (none for a one-seed run)."""
    found = find_seed_runs(Store(project=project, uri=uri), run_id)
    return {s: found[s].info.run_id for s in sorted(found)}


def std_key(key: str) -> str:
    return f"{keys.VAL_STD_PREFIX}{key[len(keys.VAL_PREFIX) :]}"


def epoch_band(mean: pd.DataFrame, std: pd.DataFrame) -> pd.DataFrame:
    """(epoch, lo, hi) = mean ± std at each epoch of `mean` (frames: epoch, value)."""
    both = mean.merge(std, on=keys.EPOCH, suffixes=("", "_std"))
    return pd.DataFrame(
        {
            keys.EPOCH: both[keys.EPOCH],
            "lo": both["value"] - both["value_std"],
            "hi": both["value"] + both["value_std"],
        }
    )


def spread_band(curves: list[pd.DataFrame], buckets: int = BUCKETS) -> pd.DataFrame:
    """(step, lo, hi): the lowest and highest value any curve has in each step bucket.

    A broken band (one seed only, or the mean's own curve) would be as thin as a line; this
    one is as wide as the seeds disagree."""
    frames = [c for c in curves if not c.empty]
    if len(frames) < 2:
        return pd.DataFrame(columns=["step", "lo", "hi"])
    every = pd.concat(frames, ignore_index=True)
    width = max(1.0, (every["step"].max() + 1) / buckets)
    bucket = (every["step"] // width).astype(int)
    grouped = every.groupby(bucket)
    return pd.DataFrame(
        {"step": grouped["step"].mean(), "lo": grouped["value"].min(), "hi": grouped["value"].max()}
    ).reset_index(drop=True)


def band_layer(band: pd.DataFrame, x: str, colour: str) -> alt.Chart:
    """A translucent area from `lo` to `hi` over `x`, to lie behind the line of the same colour
    (its y scale is the chart's own: a layer shares it)."""
    tip = [
        alt.Tooltip(f"{x}:Q", format=".4g"),
        alt.Tooltip("lo:Q", format=".4g"),
        alt.Tooltip("hi:Q", format=".4g"),
    ]
    return (
        alt.Chart(band)
        .mark_area(opacity=0.2, color=colour, clip=True)
        .encode(x=f"{x}:Q", y="lo:Q", y2="hi:Q", tooltip=tip)
    )


def epoch_std(s: Store, run: queries.RunRow, key: str, knots) -> pd.DataFrame | None:
    """The std curve of an epoch metric as (epoch, value), when the run logged one."""
    name = std_key(key)
    if name not in run.metrics:
        return None
    df, _ = data.live_curve(s.project, s.uri, run, name)
    x = step_to_epoch(df["step"], knots) if knots is not None else df["step"]
    return pd.DataFrame({keys.EPOCH: x, "value": df["value"]})


def batch_bands(s: Store, run: queries.RunRow, to_x) -> dict[str, pd.DataFrame]:
    """series ("train", "val") -> (x, lo, hi) across the run's seeds; empty for a one-seed run."""
    ids = list(seed_run_ids(s.project, s.uri, run.id, run.end_time or 0).values())
    if len(ids) < 2:
        return {}
    out = {}
    for key, series in ((keys.TRAIN_LOSS, "train"), (keys.VAL_LOSS_BATCH, "val")):
        band = spread_band([data.curve(s.project, s.uri, i, key, run.end_time or 0)[0] for i in ids])
        if not band.empty:
            band["x"] = to_x(band["step"]) if to_x else band["step"]
            out[series] = band
    return out
