"""The Idea page's Histograms and Samples tabs: what a run stored as files.

Histograms: one heatmap per tensor of the chosen kind (weights, grads, acts), named
by the tensor name the histogram file holds (its module path), with the last
snapshot's spread and zero fraction under the name and every range-check flag the
stored snapshots raise. A run that trained several seeds packed gets a seed picker: each
seed's snapshots live in its seed run (the run's own files are its first seed's).
Samples: an epoch's grid of inputs with prediction and target, scaled up by whole
pixels so its labels stay sharp, and the confusion matrix drawn as a chart (every class
named on both axes, counts in the cells).
"""

from __future__ import annotations

import io
import math

import pandas as pd
import streamlit as st

from board import charts, data, seed_bands
from board.common import md_text
from tracker import artifacts, queries
from tracker.store import Store

GRID_WIDTH = 1000  # px a sample grid is scaled up towards (whole multiples: pixels stay sharp)


def flags(run: queries.RunRow) -> None:
    """The run's range-check flags in one warning, one line each (shown above the tabs)."""
    if run.flags:
        lines = [
            f"**{flag}**" + (f": {md_text(detail)}" if detail else "") for flag, detail in run.flags.items()
        ]
        st.warning("  \n".join(lines), icon=":material/flag:")


def _last_stats(hists: list[dict], name: str) -> str:
    last = next((h for h in reversed(hists) if name in h.get("tensors", {})), None)
    if last is None:
        return ""
    t = last["tensors"][name]
    return (
        f"step {last['step']}: mean {t['mean']:.3g} · std {t['std']:.3g} · "
        f"range [{t['min']:.3g}, {t['max']:.3g}] · zeros {t['frac_zero']:.1%}"
    )


def _source(s: Store, run: queries.RunRow) -> str:
    """The run whose histogram files to show: the picked seed's run, when the run packed seeds."""
    seeds = seed_bands.seed_run_ids(s.project, s.uri, run.id, run.end_time or 0)
    if not seeds:
        return run.id
    # keyed by run: another run's pick may name a seed this one lacks
    seed = st.selectbox("seed", list(seeds), format_func=lambda v: f"seed {v}", key=f"hist_seed_{run.id}")
    return seeds[seed]


def histograms(s: Store, run: queries.RunRow) -> None:
    hists = data.histograms(s.project, s.uri, _source(s, run), run.end_time)
    if not hists:
        st.caption("No histogram files (`histograms/step_*.json`) in this run.")
        return
    names = artifacts.tensor_names(hists)
    kinds = sorted({n.split("/", 1)[0] for n in names})
    kind = st.segmented_control("tensors", kinds, default=kinds[0], key="hist_kind") or kinds[0]
    chosen = [n for n in names if n.startswith(kind + "/")]
    st.caption(
        f"{len(chosen)} tensors · {len(hists)} snapshots from step {hists[0]['step']} to {hists[-1]['step']}"
        " · colour = count per bin (log)"
    )
    cols = st.columns(2)
    for i, name in enumerate(chosen):
        with cols[i % 2]:
            cells = pd.DataFrame(artifacts.histogram_cells(hists, name))
            title = name.split("/", 1)[1]
            st.altair_chart(
                charts.heatmap_chart(cells, title=title, subtitle=_last_stats(hists, name)), width="stretch"
            )
            for flag, step in artifacts.flags_over_time(hists, name).items():
                st.caption(f":red[:material/flag:] **{flag}** from step {step}")


def sharp(png: bytes, width: int = GRID_WIDTH, max_height: int = 900) -> bytes:
    """A PNG scaled up by a whole factor to about `width` (at most `max_height` tall), nearest
    neighbour: a 7 px label becomes a 14 px one, not a blur."""
    from PIL import Image

    img = Image.open(io.BytesIO(png))
    factor = max(1, min(math.ceil(width / max(img.width, 1)), max_height // max(img.height, 1)))
    if factor == 1:
        return png
    buf = io.BytesIO()
    img.resize((img.width * factor, img.height * factor), Image.NEAREST).save(buf, format="PNG")
    return buf.getvalue()


def _show(png: bytes, caption: str | None = None) -> None:
    from PIL import Image

    big = sharp(png)
    st.image(big, caption=caption, width=min(Image.open(io.BytesIO(big)).width, GRID_WIDTH))


def top_confusions(labels: list, matrix: list[list[float]], k: int = 8) -> pd.DataFrame:
    """The largest off-diagonal cells: which true class is taken for which, and how often
    (also as a share of that true class)."""
    rows = []
    for i, row in enumerate(matrix):
        total = sum(row) or 1
        for j, v in enumerate(row):
            if i != j and v > 0:
                rows.append(
                    {"true": str(labels[i]), "predicted": str(labels[j]), "count": v, "of true": v / total}
                )
    frame = pd.DataFrame(rows, columns=["true", "predicted", "count", "of true"])
    frame = frame.sort_values("count", ascending=False, kind="stable").head(k)
    return frame.assign(**{"of true": frame["of true"].map("{:.1%}".format)})


def samples(s: Store, run: queries.RunRow) -> None:
    epochs = data.sample_epochs(s.project, s.uri, run.id, run.end_time)
    if not epochs:
        st.caption("No samples (`samples/epoch_*.png`) in this run.")
        return
    epoch = (
        epochs[0] if len(epochs) == 1 else st.select_slider("epoch", epochs, value=epochs[-1], key="epoch")
    )
    found = data.samples(s.project, s.uri, run.id, epoch)
    if found["grid"]:
        st.markdown(f"**Inputs, predictions and targets** · epoch {epoch}")
        _show(found["grid"])
    if found["confusion"]:
        conf = found["confusion"]
        left, right = st.columns([3, 2])
        left.altair_chart(charts.confusion_chart(conf["labels"], conf["matrix"]), width="content")
        worst = top_confusions(conf["labels"], conf["matrix"])
        if not worst.empty:
            right.markdown("**Most confused**")
            right.dataframe(worst, hide_index=True, width="stretch")
    elif found["confusion_png"]:
        _show(found["confusion_png"], caption="confusion matrix")
