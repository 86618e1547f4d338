"""Evaluation metrics of the project's tasks."""

from __future__ import annotations

import torch

# --- Ranking metrics (knowledge-graph completion) -------------------------------------------


def filtered_ranks(
    scores: torch.Tensor, gold: torch.Tensor, filter_mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Return the filtered rank of each query's gold entity, ``(q,)`` int64 starting at 1.

    ``scores`` is ``(q, E)``, ``gold`` ``(q,)`` entity indices and ``filter_mask`` ``(q, E)``
    True for the other known true tails of each query, which are scored -inf before ranking. The gold
    entity is never filtered, even where the mask marks it.

    Rank = 1 + the number of entities scored strictly higher than the gold one, so ties are
    resolved in the gold's favour: with 3 entities tied at the top, each of them ranks 1.
    """
    if scores.ndim != 2 or gold.shape != (scores.shape[0],):
        raise ValueError(
            f"scores must be (queries, entities) and gold (queries,), "
            f"got {tuple(scores.shape)} and {tuple(gold.shape)}"
        )
    gold = gold.to(scores.device).long()
    rows = torch.arange(scores.shape[0], device=scores.device)

    if filter_mask is not None:
        filter_mask = filter_mask.to(scores.device).clone()
        filter_mask[rows, gold] = False
        scores = scores.masked_fill(filter_mask, float("-inf"))

    gold_scores = scores[rows, gold].unsqueeze(1)  # (q, 1)
    return (scores > gold_scores).sum(dim=1) + 1  # (q,)


def ranking_metrics(ranks: torch.Tensor) -> dict[str, float]:
    """Return mean reciprocal rank and Hits@1/3/10 (fractions in [0, 1]) of 1-based ranks."""
    if ranks.numel() == 0:
        raise ValueError("ranking_metrics needs at least one rank, got an empty tensor")
    ranks = ranks.double()
    return {
        "mrr": (1.0 / ranks).mean().item(),
        "hits1": (ranks <= 1).double().mean().item(),
        "hits3": (ranks <= 3).double().mean().item(),
        "hits10": (ranks <= 10).double().mean().item(),
    }
