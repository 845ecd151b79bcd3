"""What a stage config's keys are, for a form: each key's type, default, allowed values and help.

The board's Launch page shows a stage's keys as typed inputs; `describe(OverfitConfig)`
gives it what it needs without reading the dataclasses' private parts. The help is each
field's comment in `config.py`; the bounds are the ones `validate` enforces there, in a
table (`BOUNDS`) that tests/runners/stages/test_config_keys.py holds to `validate`, key by
key, so the form and the check cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing

from tracker.estimates import shown

# The bounds `validate` enforces, by key name (a key means the same in every stage that has it):
# (low, high, low excluded, high excluded); None = unbounded. tests/runners/stages/test_config_keys.py
# checks each against `validate`, so the two cannot drift apart.
_POSITIVE = (0, None, True, False)
BOUNDS: dict[str, tuple[float | None, float | None, bool, bool]] = {
    **dict.fromkeys(("lr", "width", "depth", "one_threshold", "few_threshold"), _POSITIVE),
    **dict.fromkeys(("one_max_steps", "few_max_steps", "val_batch_size", "check_every"), _POSITIVE),
    **dict.fromkeys(("batch_size", "epochs", "critic_steps", "critic_lr"), _POSITIVE),
    "few_samples": (1, 64, False, False),
    "hist_every": (0, None, False, False),
    "hist_budget": (0, 1, False, True),
    "dropout": (0, 1, False, True),
    "seed": (0, 2**32, False, True),
    "seeds": (1, 256, False, False),
    "processes": (1, None, False, False),
    "critic_weight": (0, None, False, False),
    "init_loss_tolerance": _POSITIVE,
}
# A stage whose key of the same name has other bounds: config class name -> key -> bounds.
STAGE_BOUNDS: dict[str, dict[str, tuple[float | None, float | None, bool, bool]]] = {
    "CheckConfig": {"batch_size": (2, None, False, False)},  # one sample cannot show batch mixing
}
# key -> (values, whether other values are allowed too: device also takes cuda:N)
CHOICES: dict[str, tuple[tuple[str, ...], bool]] = {
    "lr_decay": (("cosine", "none"), False),
    "device": (("auto", "cpu", "cuda", "mps"), True),
}


@dataclasses.dataclass(frozen=True)
class KeyInfo:
    """One config key of a stage, as a form offers it."""

    name: str
    kind: type  # int | float | bool | str
    default: object
    low: float | None = None  # None: unbounded below
    high: float | None = None
    low_open: bool = False  # `low` itself is refused (> low rather than >= low)
    high_open: bool = False
    choices: tuple[str, ...] = ()
    other_choices: bool = False  # values outside `choices` are allowed (of the form `validate` checks)
    help: str = ""  # the field's comment in its dataclass

    @property
    def allowed(self) -> str:
        """The allowed values as the errors word them: `> 0`, `[1, 64]`, `[0, 1)`, `cosine, none`."""
        if self.choices:
            return ", ".join(self.choices) + (", …" if self.other_choices else "")
        low, high = (_bound_text(b) for b in (self.low, self.high))
        if low is not None and high is not None:
            return f"{'(' if self.low_open else '['}{low}, {high}{')' if self.high_open else ']'}"
        if low is not None:
            return f"{'>' if self.low_open else '>='} {low}"
        if high is not None:
            return f"{'<' if self.high_open else '<='} {high}"
        return ""


def _bound_text(bound: float | None) -> str | None:
    return None if bound is None else "2**32" if bound == 2**32 else shown(bound)


def describe(cls: type) -> list[KeyInfo]:
    """Every key of a stage config class, in field order: what the board's Launch form offers."""
    hints = typing.get_type_hints(cls)
    notes = _field_comments(cls)
    out = []
    for f in dataclasses.fields(cls):
        bounds = STAGE_BOUNDS.get(cls.__name__, {}).get(f.name) or BOUNDS.get(f.name)
        low, high, low_open, high_open = bounds or (None, None, False, False)
        choices, other = CHOICES.get(f.name, ((), False))
        out.append(
            KeyInfo(f.name, hints[f.name], f.default, low, high, low_open, high_open, choices, other,
                    notes.get(f.name, ""))
        )  # fmt: skip
    return out


def _field_comments(cls: type) -> dict[str, str]:
    """`name: type = default  # help` comments of the class and its bases (the nearest wins)."""
    line = re.compile(r"^\s+(\w+): [^=]+=[^#]*#\s*(.+)$")
    notes: dict[str, str] = {}
    for klass in cls.__mro__:
        if not dataclasses.is_dataclass(klass):
            continue
        for text in inspect.getsource(klass).splitlines():
            if (m := line.match(text)) and m.group(1) not in notes:
                notes[m.group(1)] = m.group(2).strip()
    return notes
