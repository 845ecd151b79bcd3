"""The Launch form's config inputs: a stage's keys as typed widgets, prefilled with their defaults.

Each key of the chosen stage's config (`runners.stages.config.describe`) becomes a number
input with its bounds, a selectbox for its choices, a checkbox for a bool or a text input,
labelled with what is allowed. Only the keys whose value differs from the default become
`--set KEY=VALUE` overrides, so a launch says exactly what the researcher changed. Widget
keys carry the stage's name: another stage gets its own inputs, at their defaults.
"""

from __future__ import annotations

import math

import streamlit as st

from runners.stages.config_keys import KeyInfo, describe

COLUMNS = 4


def offered(cls: type, skip: tuple[str, ...] = ()) -> list[KeyInfo]:
    """The keys the form shows: every key of `cls` but those set elsewhere on the page (`task`)."""
    return [k for k in describe(cls) if k.name not in skip]


def widget_key(scope: str, key: KeyInfo) -> str:
    return f"cfg_{scope}_{key.name}"


def key_inputs(keys: list[KeyInfo], scope: str) -> dict[str, object]:
    """One widget per key, in a grid; returns name -> the value the widget holds."""
    values: dict[str, object] = {}
    columns = st.columns(COLUMNS)
    for i, key in enumerate(keys):
        with columns[i % COLUMNS]:
            values[key.name] = _input(key, widget_key(scope, key))
    return values


def changed(keys: list[KeyInfo], values: dict[str, object]) -> list[str]:
    """`KEY=VALUE` for each key whose value is not its default, in the form's order."""
    out = []
    for key in keys:
        value = values.get(key.name, key.default)
        if not _same(value, key.default):
            out.append(f"{key.name}={as_text(value)}")
    return out


def as_text(value: object) -> str:
    """A value as `--set` takes it: `true`/`false`, integers without `.0`, floats in short form."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return repr(value)  # the shortest text that reads back as the same float: 0.0003, 1e-05
    return str(value).strip()


def _same(value: object, default: object) -> bool:
    if isinstance(default, float) and isinstance(value, int | float) and not isinstance(value, bool):
        return math.isclose(float(value), default, rel_tol=1e-12, abs_tol=0.0)
    if isinstance(default, str):
        return str(value).strip() == default
    return value == default


def _label(key: KeyInfo) -> str:
    return f"{key.name} · {key.allowed}" if key.allowed and not key.choices else key.name


def _help(key: KeyInfo) -> str:
    return f"{key.help} (default {as_text(key.default)})" if key.help else f"default {as_text(key.default)}"


def _input(key: KeyInfo, wkey: str) -> object:
    label, help_ = _label(key), _help(key)
    if key.kind is bool:
        return st.checkbox(label, value=bool(key.default), key=wkey, help=help_)
    if key.choices:
        options = list(key.choices)
        if key.default not in options:
            options.insert(0, key.default)
        return st.selectbox(
            label,
            options,
            index=options.index(key.default),
            key=wkey,
            help=help_ + (": or type another" if key.other_choices else ""),
            accept_new_options=key.other_choices,
        )
    if key.kind is int:
        low = None if key.low is None else int(key.low) + (1 if key.low_open else 0)
        high = None if key.high is None else int(key.high) - (1 if key.high_open else 0)
        return st.number_input(
            label, value=int(key.default), min_value=low, max_value=high, step=1, key=wkey, help=help_
        )
    if key.kind is float:
        # Open bounds are left to the check (lr=0 gets the CLI's own message), closed ones to the input.
        low = None if key.low is None else float(key.low)
        high = None if key.high is None else float(key.high)
        return st.number_input(
            label,
            value=float(key.default),
            min_value=low,
            max_value=high,
            step=_step(float(key.default)),
            format="%g",
            key=wkey,
            help=help_,
        )
    return st.text_input(label, value=str(key.default), key=wkey, help=help_)


def _step(default: float) -> float:
    """The +/- step of a float input: a tenth of the default's order of magnitude (0.01 for 0)."""
    if default == 0:
        return 0.01
    return 10.0 ** (math.floor(math.log10(abs(default))) - 1)
