"""A run's hyperparameters as the board shows them: the config, short values, what differs.

Stage runs log their resolved config as params (`runners/stages/config.py`: one param
per field, plus `stage`, `device_resolved`, `model_parameters`); trials also log
`trial.<key>` for each key their sweep set, and sweeps `sweep.<setting>`. This module
turns those params into a config (`config_of`), writes values short (`3e-3`, not
`0.003000000000000001`), finds the keys that differ between the runs on screen
(`differing_keys`: shown first, as columns, since they are what tells runs apart;
`shared_settings`: the rest, said once) and names a run by
them (`config_label`: `lr=3e-3 width=256`, also a trial's MLflow run name). Pure: no
MLflow here, only the params' text.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from tracker import keys

# Params a stage logs that are not settings someone chose: shown elsewhere, or derived.
NOT_CONFIG = frozenset({"stage", "device_resolved", "model_parameters"})
# Keys people read first when runs differ in several; the rest follow by name.
FIRST = ("lr", "width", "depth", "batch_size", "dropout", "weight_decay", "epochs", "seed")
SKIP_PREFIXES = (keys.SWEEP_PARAM_PREFIX, keys.REVISION_PREFIX)
LABEL_MAX = 60  # characters of a label or trial name; longer ones end in "…"


def config_of(params: Mapping[str, str]) -> dict[str, str]:
    """The config a run was given, from its params: the stage's fields, a trial's sampled values.

    A trial logs each sampled key twice (`lr` by the stage, `trial.lr` by the trainable);
    the stage's value wins, the `trial.` one fills in when the stage never logged (a
    trial that failed before its stage started).
    """
    out: dict[str, str] = {}
    for key, value in params.items():
        if key.startswith(keys.TRIAL_PARAM_PREFIX):
            out.setdefault(key[len(keys.TRIAL_PARAM_PREFIX) :], value)
    for key, value in params.items():
        if key in NOT_CONFIG or key.startswith(SKIP_PREFIXES) or key.startswith(keys.TRIAL_PARAM_PREFIX):
            continue
        out[key] = value
    return out


def short_value(value: object) -> str:
    """A value as few characters as it takes: 0.003 → `3e-3`, 256.0 → `256`, 0.25 → `0.25`.

    Numbers keep 2 significant digits in scientific form below 0.01 or from 10,000 up and
    3 in between, so `lr=3.2e-4` and `width=256` read at a glance; text is cut at 16.
    """
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text if len(text) <= 16 else text[:15] + "…"
    if text.lower() in ("true", "false") or not math.isfinite(number):
        return text
    if number == int(number) and abs(number) < 1e4:
        return str(int(number))
    if number != 0 and (abs(number) < 1e-2 or abs(number) >= 1e4):
        mantissa, exponent = f"{number:.1e}".split("e")
        mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{int(exponent)}"
    return f"{number:.3g}"


def _rank(key: str) -> tuple[int, str]:
    return (FIRST.index(key) if key in FIRST else len(FIRST), key)


def differing_keys(configs: Iterable[Mapping[str, str]]) -> list[str]:
    """Keys set to two or more different values among the configs that have them.

    A key only some runs have (an overfit run has no `batch_size`) differs only if those
    runs disagree: a missing key says the stages differ, which a column shows already.
    Values are compared as shown (`short_value`), so `0.001` and `1e-3` agree.
    """
    seen: dict[str, set[str]] = {}
    for config in configs:
        for key, value in config.items():
            seen.setdefault(key, set()).add(short_value(value))
    return sorted((k for k, values in seen.items() if len(values) > 1), key=_rank)


def config_label(config: Mapping[str, object], names: Iterable[str], max_len: int = LABEL_MAX) -> str:
    """`lr=3e-3 width=256`: the named keys the config has, short values, at most `max_len` chars."""
    text = " ".join(f"{k}={short_value(config[k])}" for k in names if k in config)
    return text if len(text) <= max_len else text[: max_len - 1].rstrip() + "…"


def trial_name(config: Mapping[str, object], sampled: Iterable[str], fallback: str) -> str:
    """A trial's MLflow run name: what its sweep sampled for it (`fallback`: Ray's name, when
    nothing was sampled, e.g. a space of fixed values only)."""
    return config_label(config, sorted(sampled, key=_rank)) or fallback


def shared_settings(configs: Iterable[Mapping[str, str]]) -> str:
    """`depth=2 · seed=0`: the keys every non-empty config has, with one value among them."""
    configs = [c for c in configs if c]
    if not configs:
        return ""
    common = set.intersection(*(set(c) for c in configs)) - set(differing_keys(configs))
    return " · ".join(f"{k}={short_value(configs[0][k])}" for k in sorted(common, key=_rank))
