"""The standard checklist of ideas every researcher should weigh (from the method's source article),
with plausible estimates for the `digits` task: what `idealoop demo` adds and the board's
"start from the checklist" templates offer. Pure data.
"""

from __future__ import annotations

# (title, category, hours, complexity, impact, likelihood, description)
CHECKLIST = [
    (
        "Non-deep-learning baseline (logistic regression)",
        "baseline",
        1,
        1,
        0.01,
        0.6,
        "Make sure deep learning is needed at all: a scikit-learn model on the same split.",
    ),
    (
        "Tune learning rate and initialization",
        "optimization",
        2,
        1,
        0.02,
        0.5,
        "Try other optimizers, learning rates and parameter initializations.",
    ),
    (
        "Per-class evaluation and confusion matrix",
        "evaluation",
        3,
        2,
        0.005,
        0.7,
        "Build out more detailed evaluation: per-class F1, slices, confusion matrix.",
    ),
    (
        "More data for the weakest digits",
        "data",
        16,
        2,
        0.03,
        0.3,
        "Collect or synthesise extra samples for the classes the model confuses most.",
    ),
    (
        "Convolutional layers for local stroke features",
        "architecture",
        6,
        3,
        0.03,
        0.4,
        "Layers that encode domain knowledge: translation-equivariant convolutions.",
    ),
    (
        "Bigger model / different backbone",
        "architecture",
        4,
        2,
        0.015,
        0.35,
        "Increase width and depth, or swap the backbone.",
    ),
    (
        "Curriculum: easy digits first",
        "curriculum",
        8,
        4,
        0.01,
        0.15,
        "Simplify the task for the network with a curriculum or extra supervision.",
    ),
]
