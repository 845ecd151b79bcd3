"""Sample images for visual inspection: inputs with predictions and targets, confusion matrices.

"Some example results for visual inspection" — from the method. Rendering uses
Pillow only (fast, no matplotlib start-up); the training thread draws the image, the
telemetry writer's thread encodes and stores it.

Sizes are chosen for where the grid is looked at: the board shows it stretched to half of
its page (~350-650 px across), so a grid is ~300-400 px wide and its text, `FONT_PX`
pixels, shows at ~16 px or more. Pillow's built-in bitmap font is ~7 px high, too
small to read once scaled; `ImageFont.load_default(size=...)` (Pillow >= 10.1 with
FreeType) gives a scalable one.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

CELL = 96  # pixels per sample image in a grid
FONT_PX = 18  # text size of labels, titles and legends: ~16 px on screen in a 350 px column
LABEL_H = FONT_PX + 6  # height of a line of text: a label under a cell, a column title
GRID_COLS = 4  # classification cells per row: 16 samples make a square grid ~400 px wide
GOOD, BAD = (40, 170, 80), (210, 50, 50)
PALETTE = np.array(
    [[0, 0, 0], [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
     [145, 30, 180], [70, 240, 240], [240, 50, 230], [210, 245, 60]], dtype=np.uint8,
)  # fmt: skip


@lru_cache(maxsize=8)
def font(px: int = FONT_PX) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's default font at `px` pixels; its fixed ~7 px bitmap font where Pillow cannot scale one."""
    try:
        return ImageFont.load_default(size=px)  # Pillow >= 10.1; the bitmap font without FreeType
    except TypeError:  # Pillow < 10.1 takes no size
        return ImageFont.load_default()


def fit_text(text: str, width: float, px: int = FONT_PX) -> str:
    """`text`, cut with `…` to fit `width` pixels (a long class name in a cell)."""
    f = font(px)
    if f.getlength(text) <= width:
        return text
    while text and f.getlength(text + "…") > width:
        text = text[:-1]
    return text + "…"


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
    line, box = LABEL_H, FONT_PX - 2
    img = Image.new("RGB", (width, line * len(names) + 4), "white")
    draw = ImageDraw.Draw(img)
    for c, name in enumerate(names):
        colour = tuple(int(v) for v in PALETTE[c % len(PALETTE)])
        top = 4 + c * line
        draw.rectangle([4, top, 4 + box, top + box], fill=colour, outline=(120, 120, 120))
        draw.text((box + 10, top), fit_text(name, width - box - 12), fill=(0, 0, 0), font=font())
    return img


def with_footer(top: Image.Image, footer: Image.Image) -> Image.Image:
    out = Image.new("RGB", (max(top.width, footer.width), top.height + footer.height), "white")
    out.paste(top, (0, 0))
    out.paste(footer, (0, top.height))
    return out


def classification_grid(
    x: torch.Tensor, logits: torch.Tensor, y: torch.Tensor, cols: int = GRID_COLS
) -> Image.Image:
    """Each input with `p:<pred> t:<target>`, framed green when right and red when wrong."""
    pred = logits.argmax(1)
    n = len(x)
    cols = max(1, min(cols, n))
    rows = (n + cols - 1) // cols
    grid = Image.new("RGB", (cols * (CELL + 4), rows * (CELL + 4 + LABEL_H)), "white")
    draw = ImageDraw.Draw(grid)
    for i in range(n):
        r, c = divmod(i, cols)
        ox, oy = c * (CELL + 4), r * (CELL + 4 + LABEL_H)
        ok = int(pred[i]) == int(y[i])
        draw.rectangle([ox, oy, ox + CELL + 3, oy + CELL + 3], fill=GOOD if ok else BAD)
        grid.paste(to_gray(x[i]), (ox + 2, oy + 2))
        label = fit_text(f"p:{int(pred[i])} t:{int(y[i])}", CELL)
        draw.text((ox + 2, oy + CELL + 5), label, fill=(0, 0, 0), font=font())
    return grid


def triptych_grid(columns: list[list[Image.Image]], titles: list[str]) -> Image.Image:
    """Rows of images side by side (e.g. input | prediction | target)."""
    n_rows, n_cols = len(columns[0]), len(columns)
    head = LABEL_H
    grid = Image.new("RGB", (n_cols * (CELL + 4), head + n_rows * (CELL + 4)), "white")
    draw = ImageDraw.Draw(grid)
    for c, title in enumerate(titles):
        draw.text((c * (CELL + 4) + 2, 2), fit_text(title, CELL), fill=(0, 0, 0), font=font())
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
    f = font()
    peak = max(int(matrix.max()), 1)
    cell = max(FONT_PX * 2, int(f.getlength(str(peak))) + 10)  # the largest count fits its cell
    short = [fit_text(label, 4 * FONT_PX) for label in labels]
    margin = max(FONT_PX * 2, int(max((f.getlength(s) for s in short), default=0)) + 8)
    img = Image.new("RGB", (margin + n * cell, margin + n * cell), "white")
    draw = ImageDraw.Draw(img)
    mid = (cell - FONT_PX) // 2
    for t in range(n):
        draw.text((4, margin + t * cell + mid), short[t], fill=(0, 0, 0), font=f)
        draw.text(
            (margin + t * cell + 4, (margin - FONT_PX) // 2),
            fit_text(short[t], cell - 6),
            fill=(0, 0, 0),
            font=f,
        )
        for p in range(n):
            v = int(matrix[t, p])
            shade = int(255 * (1 - v / peak))
            colour = (shade, shade, 255) if t == p else (255, shade, shade)
            x0, y0 = margin + p * cell, margin + t * cell
            draw.rectangle([x0, y0, x0 + cell - 1, y0 + cell - 1], fill=colour, outline=(200, 200, 200))
            if v:
                colour = (0, 0, 0) if shade > 120 else (255, 255, 255)
                draw.text((x0 + 5, y0 + mid), str(v), fill=colour, font=f)
    return img


def scatter_plot(true: torch.Tensor, pred: torch.Tensor, size: int = 360) -> Image.Image:
    """Predicted (y axis) against true (x axis) on one shared scale, with the diagonal y = x."""
    lo = float(min(true.min(), pred.min())) if len(true) else 0.0
    hi = float(max(true.max(), pred.max())) if len(true) else 1.0
    span = hi - lo or 1.0
    pad = LABEL_H + 8
    img = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(img)
    inner = size - 2 * pad
    at = lambda v: pad + (float(v) - lo) / span * inner  # noqa: E731
    draw.rectangle([pad, pad, size - pad, size - pad], outline=(180, 180, 180))
    draw.line([pad, size - pad, size - pad, pad], fill=(160, 160, 160), width=1)
    for t, p in zip(true.tolist(), pred.tolist(), strict=True):
        cx, cy = at(t), size - at(p)
        draw.ellipse([cx - 3, cy - 3, cx + 3, cy + 3], fill=(0, 110, 200))
    draw.text((pad, size - pad + 4), f"true ({lo:.3g} to {hi:.3g})", fill="black", font=font())
    draw.text((4, 4), "predicted", fill="black", font=font())
    return img


def png_writer(image: Image.Image):
    """write(path) for TelemetryWriter.log_artifact: the PNG is encoded in the writer thread."""

    def write(path: str) -> None:
        image.save(path, format="PNG")

    return write
