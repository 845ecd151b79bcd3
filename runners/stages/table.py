"""The stage ladder as one table: name → config class, code, MLproject entry point.

The CLI (`idealoop run STAGE`), the MLproject entry points and the Ray Tune
trainable all look stages up here, so a stage is added in one place.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from runners.stages.config import BaselineConfig, CheckConfig, GeneralizeConfig, OverfitConfig, ScaleConfig


@dataclass(frozen=True)
class Stage:
    name: str  # `idealoop run NAME`; the idealoop.stage tag
    entry_point: str  # `mlflow run . -e ENTRY_POINT`
    config: type  # frozen dataclass of the stage's settings
    code: str  # "module:function" that runs it inside an open StageRun
    help: str

    def function(self) -> Callable:
        module, _, fn = self.code.partition(":")
        return getattr(importlib.import_module(module), fn)


LADDER = (
    Stage("check", "stage_check", CheckConfig, "runners.stages.check:run_check",
          "the model's isolated checks before training: shapes, init loss, gradients, batch mixing"),
    Stage("baseline", "baseline", BaselineConfig, "runners.stages.baseline:run_baseline",
          "non-deep-learning model on the same split: the score to beat"),
    Stage("overfit", "stage_overfit", OverfitConfig, "runners.stages.overfit:run_overfit",
          "memorise 1 sample, then a few, regularization off"),
    Stage("generalize", "stage_generalize", GeneralizeConfig,
          "runners.stages.generalize:run_generalize", "full data, small plain model: val loss must fall"),
    Stage("scale", "stage_scale", ScaleConfig, "runners.stages.scale:run_scale",
          "bigger model, tricks on: must beat generalize"),
)  # fmt: skip
STAGES = {s.name: s for s in LADDER}
