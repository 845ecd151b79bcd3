"""Seeding and device choice, with nothing but torch: shared by the trainer, the seed packs and benchmarks.

`seed_everything(seed)` is what a run with that seed does before building its model; the
seed packs (`pack.py`) do the same per seed, so a packed seed starts exactly as it would alone.
"""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={name!r} asked for, but no CUDA device is available")
    return torch.device(name)
