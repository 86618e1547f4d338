"""C-STS evaluation: Pearson and Spearman correlation (x100) over every row of a split."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats


def correlation_metrics(scores: Sequence[float], labels: Sequence[float]) -> dict[str, float]:
    """Return ``{"pearson": r, "spearman": rho}`` times 100 between predictions and labels.

    A constant prediction has no defined correlation. It scores 0 rather than NaN, so a
    collapsed model ranks low in a search instead of breaking the searcher.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.float64)
    if scores.shape != labels.shape or scores.ndim != 1:
        raise ValueError(f"scores {scores.shape} and labels {labels.shape} must be equal 1-D")
    if len(scores) < 2:
        raise ValueError(f"correlation needs at least 2 rows, got {len(scores)}")
    if np.ptp(scores) == 0 or np.ptp(labels) == 0:
        return {"pearson": 0.0, "spearman": 0.0}
    pearson = stats.pearsonr(scores, labels).statistic
    spearman = stats.spearmanr(scores, labels).statistic
    return {
        "pearson": 100.0 * _finite(pearson),
        "spearman": 100.0 * _finite(spearman),
    }


def _finite(value: float) -> float:
    return 0.0 if math.isnan(value) else float(value)
