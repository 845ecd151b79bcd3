"""Search spaces: a YAML file of `config key → distribution`, checked before Ray starts.

```yaml
lr: {loguniform: [1.0e-4, 3.0e-2]}   # low, high (0 < low < high)
width: {choice: [32, 64, 128]}       # one of these values, sampled
depth: {randint: [1, 4]}             # integers low .. high-1, as Ray's tune.randint
dropout: {uniform: [0.0, 0.3]}
seed: {grid: [0, 1]}                 # every value, in every sample (Ray's grid_search)
batch_size: 128                      # a plain value: fixed for every trial
```

Each key must be a field of the stage's config (`runners/stages/config.py`); every value a
distribution can produce is checked by resolving the config with it (ranges at both
ends), so `width: {choice: [0, 64]}` is refused here, not in trial 7 an hour later.
A malformed space is a `SpaceError`: one line naming the key and the problem.
`to_ray` maps the parsed space onto Ray Tune's own distributions.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass
from pathlib import Path

from runners.stages.config import ConfigError, read_mapping, resolve

KINDS = ("loguniform", "uniform", "choice", "randint", "grid")
NOT_TUNABLE = {
    "task": "a sweep runs one task: give it with --task",
    "epochs": "a trial's epochs are the sweep's --max-iterations",
    "processes": "data-parallel trials are not supported; use --gpus-per-trial",
}


class SpaceError(ConfigError):
    """A malformed search space (one line for the user)."""


@dataclass(frozen=True)
class Dist:
    """One sampled parameter: a distribution kind and its arguments."""

    kind: str  # one of KINDS
    args: tuple  # (low, high) for ranges; the values for choice/grid

    def extremes(self) -> tuple:
        """Values to check against the config: every listed value, or both ends of a range."""
        if self.kind == "randint":
            return (self.args[0], self.args[1] - 1)
        return self.args


def parse_space(data: object, config_cls: type, base: dict | None = None, source: str = "space") -> dict:
    """Validate a loaded space (mapping) against `config_cls`; returns key → Dist or fixed value."""
    if not isinstance(data, dict) or not data:
        raise SpaceError(f"{source}: must be a non-empty mapping of config key: distribution")
    known = [f.name for f in dataclasses.fields(config_cls)]
    hints = typing.get_type_hints(config_cls)
    space: dict[str, object] = {}
    for key, spec in data.items():
        where = f"{source}: {key}"
        if key in NOT_TUNABLE:
            raise SpaceError(f"{where}: cannot be searched; {NOT_TUNABLE[key]}")
        if key not in known:
            allowed = ", ".join(k for k in known if k not in NOT_TUNABLE)
            raise SpaceError(f"{where}: unknown config key; known: {allowed}")
        value = _parse_one(where, spec, hints[key])
        values = value.extremes() if isinstance(value, Dist) else (value,)
        for v in values:  # every value must make a valid config, with the sweep's fixed settings
            try:
                resolve(config_cls, None, {**(base or {}), key: v})
            except ConfigError as exc:
                raise SpaceError(f"{where}: value {v!r} is not allowed: {exc}") from None
        space[key] = value
    return space


def _parse_one(where: str, spec: object, kind: type) -> object:
    if not isinstance(spec, dict):
        if isinstance(spec, (list, tuple)):
            raise SpaceError(f"{where}: a list needs a distribution, e.g. {{choice: {list(spec)}}}")
        return spec  # a fixed value
    if len(spec) != 1:
        raise SpaceError(f"{where}: give exactly one distribution ({', '.join(KINDS)}); got {sorted(spec)}")
    name, args = next(iter(spec.items()))
    if name not in KINDS:
        raise SpaceError(f"{where}: unknown distribution {name!r}; known: {', '.join(KINDS)}")
    if name in ("choice", "grid"):
        if not isinstance(args, list) or not args:
            raise SpaceError(f"{where}: {name} needs a non-empty list of values; got {args!r}")
        return Dist(name, tuple(args))
    if not (isinstance(args, list) and len(args) == 2 and all(_is_number(a) for a in args)):
        raise SpaceError(f"{where}: {name} needs [low, high] (two finite numbers); got {args!r}")
    low, high = args
    if not low < high:
        raise SpaceError(f"{where}: {name} needs low < high; got [{low}, {high}]")
    if name == "loguniform" and low <= 0:
        raise SpaceError(f"{where}: loguniform needs 0 < low; got [{low}, {high}]")
    if name == "randint" and not all(float(a).is_integer() for a in args):
        raise SpaceError(f"{where}: randint needs integer bounds; got [{low}, {high}]")
    if name in ("uniform", "loguniform") and kind is not float:
        raise SpaceError(f"{where}: is {kind.__name__}, but {name} samples floats; use randint or choice")
    if name == "randint":
        if kind not in (int, float):
            raise SpaceError(f"{where}: is {kind.__name__}, but randint samples integers; use choice")
        return Dist(name, (int(low), int(high)))
    return Dist(name, (float(low), float(high)))


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def load_space(path: str | Path, config_cls: type, base: dict | None = None) -> dict:
    """Read and validate a YAML (or JSON) space file."""
    try:
        data = read_mapping(path, "space file")
    except ConfigError as exc:
        raise SpaceError(str(exc)) from None
    return parse_space(data, config_cls, base, source=Path(path).name)


def to_ray(space: dict) -> dict:
    """Ray Tune's param_space for a parsed space."""
    from ray import tune

    make = {
        "loguniform": lambda a: tune.loguniform(*a),
        "uniform": lambda a: tune.uniform(*a),
        "randint": lambda a: tune.randint(*a),
        "choice": lambda a: tune.choice(list(a)),
        "grid": lambda a: tune.grid_search(list(a)),
    }
    return {k: make[v.kind](v.args) if isinstance(v, Dist) else v for k, v in space.items()}


def as_jsonable(space: dict) -> dict:
    """The parsed space as plain data (logged on the sweep run, re-parsed on resume)."""
    return {k: {v.kind: list(v.args)} if isinstance(v, Dist) else v for k, v in space.items()}
