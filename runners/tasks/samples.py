"""Sample images for visual inspection: inputs with predictions and targets, confusion matrices.

"Some example results for visual inspection" — from the method. Rendering uses
Pillow only (fast, no matplotlib start-up), and happens in the telemetry writer's
thread: the training thread hands over CPU tensors and a file name.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw

CELL = 64  # pixels per sample image in a grid
GOOD, BAD = (40, 170, 80), (210, 50, 50)
PALETTE = np.array(
    [[0, 0, 0], [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
     [145, 30, 180], [70, 240, 240], [240, 50, 230], [210, 245, 60]], dtype=np.uint8,
)  # fmt: skip


def to_gray(img: torch.Tensor, value_range: tuple[float, float] | None = None) -> Image.Image:
    """A (C,H,W) or (H,W) tensor as a CELLxCELL grey image.

    Scaled by its own min/max unless `value_range` is given: image-to-image samples use a
    fixed (0, 1) so that input, output and target are comparable shade for shade.
    """
    a = img.detach().float().cpu()
    if a.dim() == 3:
        a = a.mean(0)
    a = a.numpy()
    lo, hi = value_range or (float(a.min()), float(a.max()))
    a = np.clip((a - lo) / (hi - lo), 0, 1) if hi > lo else np.zeros_like(a)
    return Image.fromarray((a * 255).astype(np.uint8)).resize((CELL, CELL), Image.NEAREST).convert("RGB")


def mask_image(mask: torch.Tensor) -> Image.Image:
    """Class c drawn in PALETTE[c] (fixed: class 0 is always black), so epochs compare by eye."""
    m = mask.detach().cpu().numpy().astype(np.int64) % len(PALETTE)
    return Image.fromarray(PALETTE[m]).resize((CELL, CELL), Image.NEAREST)


def palette_legend(names: list[str], width: int) -> Image.Image:
    """One line per class: its palette colour and its name."""
    line = 14
    img = Image.new("RGB", (width, line * len(names) + 4), "white")
    draw = ImageDraw.Draw(img)
    for c, name in enumerate(names):
        colour = tuple(int(v) for v in PALETTE[c % len(PALETTE)])
        draw.rectangle([2, 2 + c * line, 12, 12 + c * line], fill=colour, outline=(120, 120, 120))
        draw.text((16, 2 + c * line), name, fill=(0, 0, 0))
    return img


def with_footer(top: Image.Image, footer: Image.Image) -> Image.Image:
    out = Image.new("RGB", (max(top.width, footer.width), top.height + footer.height), "white")
    out.paste(top, (0, 0))
    out.paste(footer, (0, top.height))
    return out


def classification_grid(x: torch.Tensor, logits: torch.Tensor, y: torch.Tensor, cols: int = 8) -> Image.Image:
    """Each input with `p:<pred> t:<target>`, framed green when right and red when wrong."""
    pred = logits.argmax(1)
    n = len(x)
    rows = (n + cols - 1) // cols
    label_h = 14
    grid = Image.new("RGB", (cols * (CELL + 4), rows * (CELL + 4 + label_h)), "white")
    draw = ImageDraw.Draw(grid)
    for i in range(n):
        r, c = divmod(i, cols)
        ox, oy = c * (CELL + 4), r * (CELL + 4 + label_h)
        ok = int(pred[i]) == int(y[i])
        draw.rectangle([ox, oy, ox + CELL + 3, oy + CELL + 3], fill=GOOD if ok else BAD)
        grid.paste(to_gray(x[i]), (ox + 2, oy + 2))
        draw.text((ox + 2, oy + CELL + 4), f"p:{int(pred[i])} t:{int(y[i])}", fill=(0, 0, 0))
    return grid


def triptych_grid(columns: list[list[Image.Image]], titles: list[str]) -> Image.Image:
    """Rows of images side by side (e.g. input | prediction | target)."""
    n_rows, n_cols = len(columns[0]), len(columns)
    head = 14
    grid = Image.new("RGB", (n_cols * (CELL + 4), head + n_rows * (CELL + 4)), "white")
    draw = ImageDraw.Draw(grid)
    for c, title in enumerate(titles):
        draw.text((c * (CELL + 4) + 2, 1), title, fill=(0, 0, 0))
        for r, img in enumerate(columns[c]):
            grid.paste(img, (c * (CELL + 4) + 2, head + r * (CELL + 4) + 2))
    return grid


def confusion_matrix(pred: torch.Tensor, y: torch.Tensor, n_classes: int) -> np.ndarray:
    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(m, (y.cpu().numpy(), pred.cpu().numpy()), 1)
    return m


def confusion_image(matrix: np.ndarray, labels: list[str]) -> Image.Image:
    """Rows = target, columns = prediction; darker = more samples; counts written in."""
    n = len(labels)
    cell, margin = 28, 30
    img = Image.new("RGB", (margin + n * cell, margin + n * cell), "white")
    draw = ImageDraw.Draw(img)
    peak = max(int(matrix.max()), 1)
    for t in range(n):
        draw.text((4, margin + t * cell + 8), labels[t][:3], fill=(0, 0, 0))
        draw.text((margin + t * cell + 8, 4), labels[t][:3], fill=(0, 0, 0))
        for p in range(n):
            v = int(matrix[t, p])
            shade = int(255 * (1 - v / peak))
            colour = (shade, shade, 255) if t == p else (255, shade, shade)
            x0, y0 = margin + p * cell, margin + t * cell
            draw.rectangle([x0, y0, x0 + cell - 1, y0 + cell - 1], fill=colour, outline=(200, 200, 200))
            if v:
                draw.text((x0 + 6, y0 + 8), str(v), fill=(0, 0, 0) if shade > 120 else (255, 255, 255))
    return img


def png_writer(image: Image.Image):
    """write(path) for TelemetryWriter.log_artifact: the PNG is encoded in the writer thread."""

    def write(path: str) -> None:
        image.save(path, format="PNG")

    return write
