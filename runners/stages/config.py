"""Stage configs: frozen dataclasses, resolved in layers (defaults → file → command line).

`resolve(OverfitConfig, file="cfg.yaml", overrides={"lr": "3e-4"})` returns a
checked config. Unknown keys are rejected with the list of known ones; values are
coerced to the field's type with an error naming the key and the value. The
resolved config is what a run logs as params and as `config.json`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import typing
from pathlib import Path
from typing import TypeVar

from tracker.estimates import shown

C = TypeVar("C")
MAX_SEEDS = 256  # seeds packed in one run: each is a model in memory and a seed run in MLflow
DEVICE_NAMES = re.compile(r"auto|cpu|mps|cuda(:\d+)?")  # what torch.device accepts that idealoop runs on


class ConfigError(ValueError):
    """A bad config key or value (one line for the user)."""


@dataclasses.dataclass(frozen=True)
class OverfitConfig:
    """stage_overfit: memorise 1 sample, then a few, with every regularizer off."""

    task: str = "digits"  # built-in task name, or 'package.module:function'
    seed: int = 0  # fixes the split, the init, the samples picked and the val batches
    seeds: int = 1  # seeds seed..seed+seeds-1 trained packed in one process; gates on their mean
    lr: float = 1e-3  # Adam learning rate, constant (LR decay fakes convergence)
    width: int = 128  # hidden units per layer of the small model
    depth: int = 2  # hidden layers
    few_samples: int = 8  # samples in the overfit-few check (the method says 5-10)
    one_threshold: float = 0.01  # train loss the one-sample check must get below
    few_threshold: float = 0.02  # train loss the few-samples check must get below
    one_max_steps: int = 300  # step budget of the one-sample check
    few_max_steps: int = 1000  # step budget of the few-samples check
    val_batch_size: int = 64  # size of the random val batch scored after every iteration
    check_every: int = 10  # steps between reads of the loss (each read syncs the device)
    hist_every: int = 50  # steps between histogram snapshots (0 = off): dead units show early
    hist_budget: float = 0.01  # snapshots spaced out to stay under this share of training time (0 = exact)
    device: str = "auto"  # auto | cpu | cuda | cuda:N

    def validate(self) -> None:
        _positive(self, "lr", "width", "depth", "one_threshold", "few_threshold")
        _positive(self, "one_max_steps", "few_max_steps", "val_batch_size", "check_every")
        _histograms(self)
        _device(self)
        _seed(self)
        if not 1 <= self.few_samples <= 64:
            raise ConfigError(f"few_samples={self.few_samples} is out of range; allowed: [1, 64]")


@dataclasses.dataclass(frozen=True)
class CheckConfig:
    """stage_check: the model's isolated checks before any training (seconds on a CPU)."""

    task: str = "digits"  # built-in task name, or 'package.module:function'
    seed: int = 0  # fixes the init, the batches and the determinism check's two runs
    lr: float = 1e-3  # Adam learning rate of the one step every parameter must move in
    width: int = 128  # hidden units per layer (the small model the next stages train)
    depth: int = 2  # hidden layers
    batch_size: int = 32  # samples in the batch the checks look at
    init_loss_tolerance: float = 0.5  # loss at init may differ from ln C by this share of it
    device: str = "cpu"  # auto | cpu | cuda | cuda:N (cpu: gradcheck and determinism are exact there)

    def validate(self) -> None:
        _positive(self, "lr", "width", "depth", "init_loss_tolerance")
        _device(self)
        _seed(self)
        if self.batch_size < 2:
            raise ConfigError(f"batch_size={self.batch_size} is out of range; allowed: >= 2 (to see mixing)")


@dataclasses.dataclass(frozen=True)
class BaselineConfig:
    """baseline: a non-deep-learning model on the same split and metrics."""

    task: str = "digits"  # built-in task name, or 'package.module:function'
    seed: int = 0  # fixes the split and the baseline model's randomness

    def validate(self) -> None:
        _seed(self)


@dataclasses.dataclass(frozen=True)
class GeneralizeConfig:
    """stage_generalize: full training data, the small plain model, tricks off."""

    task: str = "digits"  # built-in task name, or 'package.module:function'
    seed: int = 0  # fixes the split, the init, the batch order and the val batches
    seeds: int = 1  # seeds seed..seed+seeds-1 trained packed in one process; gates on their mean
    lr: float = 1e-3  # Adam learning rate, constant
    width: int = 128  # hidden units per layer (small: < 1M parameters)
    depth: int = 2  # hidden layers
    batch_size: int = 64  # training batch size
    epochs: int = 10  # passes over the training data
    val_batch_size: int = 64  # size of the random val batch scored after every iteration
    check_every: int = 10  # steps between reads of the loss (each read syncs the device)
    hist_every: int = 50  # steps between histogram snapshots (0 = off)
    hist_budget: float = 0.01  # snapshots spaced out to stay under this share of training time (0 = exact)
    n_samples: int = 16  # val samples rendered per epoch (0: no sample images or confusion matrix)
    device: str = "auto"  # auto | cpu | cuda | cuda:N

    def validate(self) -> None:
        _positive(self, "lr", "width", "depth", "batch_size", "epochs", "val_batch_size", "check_every")
        _histograms(self)
        _device(self)
        _seed(self)


@dataclasses.dataclass(frozen=True)
class ScaleConfig(GeneralizeConfig):
    """stage_scale: a bigger model, with the tricks the earlier stages kept off."""

    width: int = 256  # bigger model
    depth: int = 3
    epochs: int = 20
    dropout: float = 0.1  # dropout after each hidden layer (0 = off)
    batchnorm: bool = True  # batch normalisation after each hidden layer
    lr_decay: str = "cosine"  # cosine | none
    augment: bool = True  # the task's augmentation, on training batches only
    class_weights: bool = False  # weight the loss by inverse class frequency
    weight_decay: float = 0.0  # AdamW weight decay
    processes: int = 1  # data-parallel processes (DDP; gloo on CPU, nccl on GPUs)
    critic: bool = False  # image-to-image only: add a WGAN-GP critic's adversarial loss to L1
    critic_weight: float = 0.01  # generator loss = task loss + critic_weight * adversarial loss
    critic_steps: int = 5  # critic updates per generator step (WGAN-GP's n_critic)
    critic_lr: float = 1e-4  # critic's Adam learning rate (WGAN-GP's)

    def validate(self) -> None:
        super().validate()
        _positive(self, "critic_steps", "critic_lr")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout={self.dropout} is out of range; allowed: [0, 1)")
        if self.lr_decay not in ("cosine", "none"):
            raise ConfigError(f"lr_decay={self.lr_decay!r} is not allowed; allowed: cosine, none")
        if self.processes < 1:
            raise ConfigError(f"processes={self.processes} is out of range; allowed: >= 1")
        if self.critic_weight < 0:
            raise ConfigError(f"critic_weight={self.critic_weight} is out of range; allowed: >= 0")
        if self.critic and self.processes > 1:
            raise ConfigError(f"critic=true runs in one process; processes={self.processes}, allowed: 1")
        if self.seeds > 1 and self.processes > 1:
            raise ConfigError(
                f"seeds={self.seeds} packs seeds in one process; processes={self.processes}, allowed: 1"
            )
        if self.seeds > 1 and self.critic:
            raise ConfigError(f"critic=true trains one seed at a time; seeds={self.seeds}, allowed: 1")

    def check_task(self, task) -> None:
        """Options that only some kinds of task support: checked before any run is created."""
        if self.class_weights and task.kind not in ("classification", "segmentation"):
            kinds = "a classification or segmentation task"
            raise ConfigError(f"class_weights=true needs {kinds}; {task.name!r} is {task.kind}")
        if self.critic and task.kind != "image2image":
            raise ConfigError(f"critic=true needs an image2image task; {task.name!r} is {task.kind}")


def _histograms(cfg: object) -> None:
    if cfg.hist_every < 0:
        raise ConfigError(f"hist_every={cfg.hist_every} is out of range; allowed: >= 0")
    if not 0 <= cfg.hist_budget < 1:
        raise ConfigError(f"hist_budget={cfg.hist_budget} is out of range; allowed: [0, 1)")


def _seed(cfg: object) -> None:
    if not 0 <= cfg.seed < 2**32:  # numpy's and scikit-learn's seeds are 32-bit
        raise ConfigError(f"seed={shown(cfg.seed)} is out of range; allowed: [0, 2**32)")
    seeds = getattr(cfg, "seeds", 1)
    if not 1 <= seeds <= MAX_SEEDS:
        raise ConfigError(f"seeds={shown(seeds)} is out of range; allowed: [1, {MAX_SEEDS}]")
    if cfg.seed + seeds > 2**32:
        raise ConfigError(f"seed={cfg.seed} with seeds={seeds} runs past the last seed, 2**32 - 1")


def _device(cfg: object) -> None:
    """The name's form only: whether a GPU is there is known only where the run lands (a sweep's
    driver may sit on a CPU head node), so the trainer checks that when it picks the device."""
    if not DEVICE_NAMES.fullmatch(cfg.device):
        raise ConfigError(
            f"device={shown(repr(cfg.device))} is not allowed; allowed: auto, cpu, cuda, cuda:N, mps"
        )


def _positive(cfg: object, *names: str) -> None:
    for name in names:
        value = getattr(cfg, name)
        if not value > 0:
            raise ConfigError(f"{name}={value} is out of range; allowed: > 0")


def _coerce(name: str, kind: type, value: object) -> object:
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        coerced = value
    else:
        coerced = _convert(name, kind, value)
    if kind is float and not math.isfinite(coerced):  # lr=inf trains to NaN, far from the typo
        raise ConfigError(f"{name}={shown(value)} is not a finite number")
    return coerced


def _convert(name: str, kind: type, value: object) -> object:
    try:
        if kind is bool:
            if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on"):
                return True
            if isinstance(value, str) and value.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if kind is int:
            number = float(value)  # accepts "3" and "3.0" (MLflow passes floats as text)
            if number != int(number):
                raise ValueError
            return int(number)
        return kind(value)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{name}={shown(repr(value))} is not a valid {kind.__name__}") from None


def read_mapping(path: str | Path, what: str = "config file") -> object:
    """Parse a YAML or JSON file (by suffix; YAML when unsure) with one-line errors that name the
    file and, for a syntax error, the line. The caller checks the shape of what it holds."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{what} {str(path)!r} is a directory; give a YAML or JSON file")
    if not path.is_file():
        raise ConfigError(f"{what} {str(path)!r} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{what} {str(path)!r} is not text (binary content?)") from None
    except OSError as exc:
        raise ConfigError(f"{what} {str(path)!r} cannot be read: {exc.strerror}") from None
    if path.suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{what} {str(path)!r}, line {exc.lineno}: {exc.msg}") from None
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).strip().splitlines()[0]
        raise ConfigError(f"{what} {str(path)!r}{line}: {problem}") from None


def load_file(path: str | Path) -> dict:
    data = read_mapping(path) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(path)!r} must hold a mapping of key: value")
    return data


def resolve(cls: type[C], file: str | None = None, overrides: dict | None = None) -> C:
    """Defaults, then the file, then overrides (None values mean "not given")."""
    hints = typing.get_type_hints(cls)
    known = [f.name for f in dataclasses.fields(cls)]
    layered: dict[str, object] = {}
    for source in (load_file(file) if file else {}, overrides or {}):
        for key, value in source.items():
            if value is None:
                continue
            if key not in known:
                raise ConfigError(f"unknown config key {shown(repr(key))}; known: {', '.join(known)}")
            layered[key] = _coerce(key, hints[key], value)
    cfg = cls(**layered)
    if hasattr(cfg, "validate"):
        cfg.validate()
    return cfg


def as_dict(cfg: object) -> dict:
    return dataclasses.asdict(cfg)
