"""Defaults per kind of task: metrics, sample renderers and non-deep-learning baselines.

Kinds: classification (accuracy, f1), segmentation (miou, pixel accuracy), image2image (l1,
psnr) and regression (mse, mae, r2; a ridge baseline; a predicted-vs-true plot).

A task may bring its own; these make a new task of a known kind need only data,
a model and a loss. Metric names carry no `val/` prefix; the evaluator adds it. A name
with a slash, `<metric>/<class>` (`f1/7`, `iou/circle`), is a per-class value: it is
stored as a row of the run's `metrics/per_class.jsonl`, not as an MLflow metric
(tracker/artifacts.py: split_per_class), so MLflow's UI lists only the headline metrics.
"""

from __future__ import annotations

import numpy as np
import torch

from runners.tasks import samples

# -- classification -----------------------------------------------------------


def classification_metrics(logits: torch.Tensor, targets: torch.Tensor, names=None) -> dict[str, float]:
    """Accuracy, macro-F1 and per-class F1 (`f1/<class>`), computed in torch."""
    pred = logits.argmax(dim=1)
    out = {"accuracy": (pred == targets).float().mean().item()}
    f1s = []
    for c in range(logits.shape[1]):
        tp = ((pred == c) & (targets == c)).sum().item()
        fp = ((pred == c) & (targets != c)).sum().item()
        fn = ((pred != c) & (targets == c)).sum().item()
        if tp + fp + fn:
            f1 = 2 * tp / (2 * tp + fp + fn)
            f1s.append(f1)
            out[f"f1/{names[c] if names else c}"] = f1
    out["f1_macro"] = float(np.mean(f1s)) if f1s else 0.0
    return out


def logistic_baseline(task, seed: int) -> dict[str, float]:
    """Logistic regression on the flattened inputs: is deep learning needed at all?"""
    from sklearn.linear_model import LogisticRegression

    x = task.train.x.flatten(1).numpy()
    model = LogisticRegression(max_iter=2000, random_state=seed).fit(x, task.train.y.numpy())
    proba = model.predict_proba(task.val.x.flatten(1).numpy())
    n_classes = int(max(task.train.y.max(), task.val.y.max())) + 1
    logits = np.full((len(proba), n_classes), -1e9, dtype=np.float32)
    logits[:, model.classes_] = proba  # classes the model never saw stay impossible
    return classification_metrics(torch.from_numpy(logits), task.val.y, task.class_names)


def classification_samples(x, logits, y, names=None):
    return samples.classification_grid(x, logits, y)


# -- segmentation --------------------------------------------------------------


def segmentation_metrics(logits: torch.Tensor, targets: torch.Tensor, names=None) -> dict[str, float]:
    """Pixel accuracy, mean IoU over classes present, and `iou/<class>`."""
    pred = logits.argmax(dim=1)
    out = {"pixel_accuracy": (pred == targets).float().mean().item()}
    ious = []
    for c in range(logits.shape[1]):
        inter = ((pred == c) & (targets == c)).sum().item()
        union = ((pred == c) | (targets == c)).sum().item()
        if union:
            ious.append(inter / union)
            out[f"iou/{names[c] if names else c}"] = inter / union
    out["miou"] = float(np.mean(ious)) if ious else 0.0
    return out


def majority_pixel_baseline(task, seed: int) -> dict[str, float]:
    """Per pixel, the class most often seen there in training: a model that ignores the input."""
    y = task.train.y
    n_classes = int(max(y.max(), task.val.y.max())) + 1
    counts = torch.stack([(y == c).sum(0) for c in range(n_classes)])  # (C, H, W)
    logits = counts.float().unsqueeze(0).expand(len(task.val), -1, -1, -1)
    return segmentation_metrics(logits, task.val.y, task.class_names)


def segmentation_samples(x, logits, y, names=None):
    """Rows of input | target mask | predicted mask, masks in the fixed palette, with its legend."""
    pred = logits.argmax(1)
    cols = [
        [samples.to_gray(i) for i in x],
        [samples.mask_image(t) for t in y],
        [samples.mask_image(p) for p in pred],
    ]
    grid = samples.triptych_grid(cols, ["input", "target", "predicted"])
    names = names or [str(c) for c in range(logits.shape[1])]
    return samples.with_footer(grid, samples.palette_legend(names, grid.width))


# -- image to image --------------------------------------------------------------


def image2image_metrics(outputs: torch.Tensor, targets: torch.Tensor, names=None) -> dict[str, float]:
    err = (outputs - targets).abs()
    mse = ((outputs - targets) ** 2).mean().item()
    return {"l1": err.mean().item(), "psnr": float(10 * np.log10(1.0 / max(mse, 1e-10)))}


def identity_baseline(task, seed: int) -> dict[str, float]:
    """Output = input: the score any learned restoration must beat."""
    return image2image_metrics(task.val.x, task.val.y)


def image2image_samples(x, outputs, y, names=None):
    """Rows of input | output | target on one fixed 0-1 scale (per-image scaling would hide a dim output)."""
    cols = [[samples.to_gray(i, value_range=(0.0, 1.0)) for i in t] for t in (x, outputs, y)]
    return samples.triptych_grid(cols, ["input", "output", "target"])


# -- regression ----------------------------------------------------------------------


def regression_metrics(outputs: torch.Tensor, targets: torch.Tensor, names=None) -> dict[str, float]:
    """MSE, MAE and R² over every output value (R² against each column's own mean)."""
    out = outputs.detach().float().reshape(len(outputs), -1)
    y = targets.detach().float().reshape(len(targets), -1)
    err = out - y
    total = ((y - y.mean(0)) ** 2).sum().item()
    r2 = 1 - (err**2).sum().item() / total if total > 0 else float("nan")
    return {"mse": (err**2).mean().item(), "mae": err.abs().mean().item(), "r2": r2}


def ridge_baseline(task, seed: int) -> dict[str, float]:
    """Ridge regression on the flattened inputs: a linear model is the score to beat."""
    from sklearn.linear_model import Ridge

    y = task.train.y.float().reshape(len(task.train), -1).numpy()
    model = Ridge(alpha=1.0, random_state=seed).fit(task.train.x.float().flatten(1).numpy(), y)
    pred = torch.from_numpy(model.predict(task.val.x.float().flatten(1).numpy())).float()
    return regression_metrics(pred.reshape(task.val.y.shape), task.val.y)


def regression_samples(x, outputs, y, names=None):
    """Predicted vs true: one dot per output value, the diagonal is a perfect model."""
    return samples.scatter_plot(y.detach().float().flatten(), outputs.detach().float().flatten())


DEFAULTS = {
    "classification": (classification_metrics, classification_samples, logistic_baseline),
    "segmentation": (segmentation_metrics, segmentation_samples, majority_pixel_baseline),
    "image2image": (image2image_metrics, image2image_samples, identity_baseline),
    "regression": (regression_metrics, regression_samples, ridge_baseline),
}


def metrics_fn(task):
    if task.metrics is not None:
        return lambda out, y: task.metrics(out, y)
    fn = DEFAULTS.get(task.kind, DEFAULTS["classification"])[0]
    return lambda out, y: fn(out, y, task.class_names)


def samples_fn(task):
    if task.render_samples is not None:
        return task.render_samples
    fn = DEFAULTS.get(task.kind, DEFAULTS["classification"])[1]
    return lambda x, out, y: fn(x, out, y, task.class_names)


def baseline_fn(task):
    return task.baseline or DEFAULTS.get(task.kind, DEFAULTS["classification"])[2]
