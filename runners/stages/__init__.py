"""The stage ladder: the stage table, each stage's config and code, data-parallel scale-out."""

from runners.stages.table import LADDER, STAGES, Stage

__all__ = ["LADDER", "STAGES", "Stage"]
