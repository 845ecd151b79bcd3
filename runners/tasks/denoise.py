"""`denoise`: image to image — noisy handwritten digits in, clean digits out.

scikit-learn's 8x8 digits (the `digits` task's images and split), upsampled to
16x16, with Gaussian noise added once, fixed by the seed. The model is the
shared small U-Net with one output channel, trained with a plain L1 loss: the
method's advice is to start with L1 regression and add an adversarial critic
only once L1 works (`stage_scale --set critic=true`, see runners/training/critic.py).

The target metric is val `l1` (lower is better); `psnr` is logged beside it.
The non-deep-learning baseline is a ridge regression from noisy to clean pixels
(a linear, learned Wiener-style filter); it also records what a median filter and
the identity score, so the gap to "do nothing" is in view.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from runners.tasks import kinds
from runners.tasks.base import ModelSpec, Split, Task
from runners.tasks.digits import split_indices
from runners.tasks.unet import UNet

SIZE = 16  # pixels per side after upsampling the 8x8 originals
NOISE = 0.3  # std of the Gaussian noise, on pixel values in [0, 1]


def clean_images() -> tuple[torch.Tensor, np.ndarray]:
    """All 1,797 digits as (n, 1, SIZE, SIZE) in [0, 1], and their class labels (for the split)."""
    from sklearn.datasets import load_digits

    data = load_digits()
    small = torch.tensor(data.images / 16.0, dtype=torch.float32).unsqueeze(1)
    big = nn.functional.interpolate(small, size=(SIZE, SIZE), mode="bilinear", align_corners=False)
    return big.clamp(0, 1), data.target


def add_noise(clean: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    return (clean + NOISE * torch.randn(clean.shape, generator=gen)).clamp(0, 1)


def build_model(spec: ModelSpec) -> nn.Module:
    return UNet(spec, in_channels=1, out_channels=1)


def augment(x: torch.Tensor, y: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Train-only: shift noisy input and clean target together by up to one pixel."""
    dx, dy = (int(v) for v in torch.randint(-1, 2, (2,), generator=gen))
    return torch.roll(x, (dy, dx), dims=(-2, -1)), torch.roll(y, (dy, dx), dims=(-2, -1))


def ridge_baseline(task: Task, seed: int) -> dict[str, float]:
    """Ridge regression noisy pixels -> clean pixels, scored on val; plus median filter and identity."""
    from scipy import ndimage
    from sklearn.linear_model import Ridge

    shape = task.val.y.shape
    ridge = Ridge(alpha=1.0, random_state=seed).fit(
        task.train.x.flatten(1).numpy(), task.train.y.flatten(1).numpy()
    )
    out = torch.from_numpy(ridge.predict(task.val.x.flatten(1).numpy()).astype(np.float32)).reshape(shape)
    metrics = kinds.image2image_metrics(out.clamp(0, 1), task.val.y)
    median = torch.from_numpy(ndimage.median_filter(task.val.x.numpy(), size=(1, 1, 3, 3)))
    metrics["median_filter_l1"] = kinds.image2image_metrics(median, task.val.y)["l1"]
    metrics["identity_l1"] = kinds.image2image_metrics(task.val.x, task.val.y)["l1"]
    return metrics


def make_task(seed: int = 0) -> Task:
    clean, labels = clean_images()
    noisy = add_noise(clean, torch.Generator().manual_seed(seed))
    train, val, test = (torch.as_tensor(i) for i in split_indices(labels, seed))
    return Task(
        name="denoise",
        train=Split(noisy[train], clean[train]),
        val=Split(noisy[val], clean[val]),
        test=Split(noisy[test], clean[test]),
        build_model=build_model,
        loss=nn.functional.l1_loss,
        target_metric="l1",
        higher_is_better=False,
        kind="image2image",
        baseline=ridge_baseline,
        augment=augment,
    )
