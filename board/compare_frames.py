"""What the Compare page shows about its runs, as plain data: short labels and the final table.

Pure (no Streamlit, no MLflow), so the page stays a short script and these are tested
on their own:
- `legend_labels`: a short, distinct name per run, from what differs between the
  runs compared (their config, else their stage), else the run id's first 8 characters;
- `final_table`: one row per run with the headline results (the target's last value and
  its best, val and train loss, the stages' own results where a run has them) and the
  config keys that differ; the settings all runs share come back as one line.
"""

from __future__ import annotations

import pandas as pd

from tracker import keys, queries
from tracker.run_config import config_label, differing_keys, shared_settings, short_value

LABEL_MAX = 40  # characters of a legend label before the run id
LABEL_KEYS = 3  # differing config keys a legend label names, unless more are needed to tell runs apart
STAGE_RESULTS = (
    keys.OVERFIT_ONE_LOSS,
    keys.OVERFIT_FEW_LOSS,
    keys.GAP_TO_BASELINE,
    keys.BASELINE_FIT_SECONDS,
)


def short_id(run_id: str) -> str:
    return run_id[:8]


def legend_labels(runs: list[queries.RunRow]) -> dict[str, str]:
    """Run id -> a short label that tells it apart from the other runs given (in their order).

    The label holds the first LABEL_KEYS differing config keys (lr, width, depth ... first),
    more only where runs would otherwise share a label, and the stage when the runs' stages
    differ; runs that still look alike get their id's first 8 characters.
    """
    differ = differing_keys(r.config for r in runs)
    stages = {r.stage for r in runs}

    def labels(names: list[str]) -> dict[str, str]:
        out = {}
        for r in runs:
            parts = [r.stage] if len(stages) > 1 else []
            text = config_label(r.config, names, max_len=LABEL_MAX)
            out[r.id] = " ".join([*parts, text] if text else parts)
        return out

    found = labels(differ[:LABEL_KEYS])
    for more in range(LABEL_KEYS + 1, len(differ) + 1):
        if len(set(found.values())) == len(found):
            break
        found = labels(differ[:more])
    counts: dict[str, int] = {}
    for label in found.values():
        counts[label] = counts.get(label, 0) + 1
    return {
        i: short_id(i) if not v else f"{v} · {short_id(i)}" if counts[v] > 1 else v for i, v in found.items()
    }


def final_table(
    runs: list[queries.RunRow], labels: dict[str, str], titles: dict[str, str]
) -> tuple[pd.DataFrame, str]:
    """(one row per run: label, idea, stage, why it ended, headline metrics, differing config;
    the shared config as `k=v · k=v`). Metric columns appear only when some run has them."""
    judged = queries.judged_by(runs)
    headline: list[tuple[str, object]] = []  # (column, key or callable)
    if judged:
        target, _ = judged
        headline.append((target, keys.VAL_PREFIX + target))
        headline.append((f"best {target}", lambda r, t=target: queries.best_score(r, t)))
    headline += [(keys.VAL_LOSS, keys.VAL_LOSS), (keys.TRAIN_LOSS, keys.TRAIN_LOSS)]
    headline += [(k, k) for k in STAGE_RESULTS]
    configs = [r.config for r in runs]
    differ = differing_keys(configs)
    rows = []
    for r in runs:
        line: dict[str, object] = {
            "run": labels[r.id],
            "idea": titles.get(r.idea_id, ""),
            "stage": r.stage,
            "ended": r.why_ended,
        }
        for column, key in headline:
            line[column] = key(r) if callable(key) else r.metrics.get(key)
        config = r.config
        line.update({k: short_value(config[k]) if k in config else "" for k in differ})
        line["id"] = short_id(r.id)
        rows.append(line)
    frame = pd.DataFrame(rows)
    empty = [c for c, _ in headline if c in frame and frame[c].isna().all()]
    frame = frame.drop(columns=empty)
    if frame["idea"].nunique() == 1:
        frame = frame.drop(columns=["idea"])
    return frame, shared_settings(configs)
