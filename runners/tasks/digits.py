"""`digits`: scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes).

It ships inside scikit-learn, so it needs no download, and it is small enough that
every stage finishes in seconds on a CPU. The split is fixed by the seed:
70% train, 15% val, 15% test, stratified by class. Two slices by ink, `faint` and `bold`,
are scored apart on every val pass (`slice/faint/accuracy`, ...).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from runners.tasks.base import ModelSpec, Split, Task

N_CLASSES = 10


def build_model(spec: ModelSpec) -> nn.Module:
    """An MLP on the 64 pixels; ~26k parameters at the defaults (well under 1M)."""
    layers: list[nn.Module] = [nn.Flatten()]
    width_in = 64
    for _ in range(spec.depth):
        layers.append(nn.Linear(width_in, spec.width))
        if spec.batchnorm:
            layers.append(nn.BatchNorm1d(spec.width))
        layers.append(nn.ReLU())
        if spec.dropout > 0:
            layers.append(nn.Dropout(spec.dropout))
        width_in = spec.width
    layers.append(nn.Linear(width_in, N_CLASSES))
    return nn.Sequential(*layers)


def augment(x: torch.Tensor, y: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Train-only augmentation: shift each image by up to one pixel, add light noise (labels kept)."""
    dx, dy = (int(v) for v in torch.randint(-1, 2, (2,), generator=gen))
    shifted = torch.roll(x, shifts=(dy, dx), dims=(-2, -1))
    return (shifted + 0.05 * torch.randn(x.shape, generator=gen)).clamp(0, 1), y


FAINT_INK, BOLD_INK = 18.0, 21.0  # total ink (pixel sum, 0..64): about the val split's lower / upper quarter


def ink_slices(x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """Digits drawn with little or much ink, scored apart (Task.slices): thin strokes lose pixels."""
    ink = x.flatten(1).sum(1)
    return {"faint": ink < FAINT_INK, "bold": ink > BOLD_INK}


def split_indices(y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, val, test) indices: 70/15/15 per class, fixed by the seed (`denoise` shares it)."""
    rng = np.random.default_rng(seed)
    train, val, test = [], [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_val = n_test = round(0.15 * len(idx))
        val.append(idx[:n_val])
        test.append(idx[n_val : n_val + n_test])
        train.append(idx[n_val + n_test :])
    return tuple(rng.permutation(np.concatenate(part)) for part in (train, val, test))


def make_task(seed: int = 0) -> Task:
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.tensor(data.images / 16.0, dtype=torch.float32).unsqueeze(1)  # (n, 1, 8, 8)
    y = torch.tensor(data.target, dtype=torch.long)
    train, val, test = (torch.as_tensor(i) for i in split_indices(data.target, seed))
    return Task(
        name="digits",
        train=Split(x[train], y[train]),
        val=Split(x[val], y[val]),
        test=Split(x[test], y[test]),
        build_model=build_model,
        loss=nn.functional.cross_entropy,
        target_metric="accuracy",
        kind="classification",
        class_names=[str(i) for i in range(N_CLASSES)],
        augment=augment,
        slices=ink_slices,
    )
