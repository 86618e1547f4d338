"""InfoNCE loss of knowledge-graph completion (SimKGC) with in-batch, pre-batch and self-negatives.

For queries q_i and tails t_j (L2-normalised, n per batch) the logits of query i are

    S_ij = exp(θ) · (q_i · t_j - γ · [i = j])        in-batch tails, j = 1 … n
    P_ik = 0.5 · exp(θ) · (q_i · p_k)                 pre-batch tails p_k of earlier batches
    Z_i  = exp(θ) · (q_i · e_i)                       self-negative: the head entity e_i

and the loss is the mean cross-entropy with target column i. The additive margin γ applies to
training only. A negative that is a known true tail of (h_i, r_i) gets logit -inf, so it never
counts as wrong. The positive (the diagonal) is never masked.

NOTE: only the query-to-tail direction is scored; no tail-to-query term is added.
"""

from __future__ import annotations

from collections import deque

import torch
from torch.nn import functional as F

PRE_BATCH_WEIGHT = 0.5


def kgc_logits(
    queries: torch.Tensor,
    tails: torch.Tensor,
    log_inv_temperature: torch.Tensor,
    margin: float = 0.0,
    true_tail_mask: torch.Tensor | None = None,
    pre_batch_tails: torch.Tensor | None = None,
    pre_batch_mask: torch.Tensor | None = None,
    self_negatives: torch.Tensor | None = None,
    self_negative_mask: torch.Tensor | None = None,
    pre_batch_weight: float = PRE_BATCH_WEIGHT,
) -> torch.Tensor:
    """Return the logits ``(n, n [+ m] [+ 1])``: in-batch, then pre-batch, then self-negative.

    Masks are True where a negative is a known true tail and must be left out:
    ``true_tail_mask`` (n, n) with a False diagonal, ``pre_batch_mask`` (n, m),
    ``self_negative_mask`` (n,).
    """
    scale = log_inv_temperature.exp()
    n = queries.shape[0]

    scores = queries @ tails.t()  # (n, n)
    if margin:
        scores = scores - margin * torch.eye(n, dtype=scores.dtype, device=scores.device)
    logits = [_masked(scale * scores, true_tail_mask)]

    if pre_batch_tails is not None and pre_batch_tails.shape[0] > 0:
        pre_batch = pre_batch_weight * scale * (queries @ pre_batch_tails.t())  # (n, m)
        logits.append(_masked(pre_batch, pre_batch_mask))

    if self_negatives is not None:
        self_scores = scale * (queries * self_negatives).sum(dim=-1, keepdim=True)  # (n, 1)
        mask = None if self_negative_mask is None else self_negative_mask[:, None]
        logits.append(_masked(self_scores, mask))

    return torch.cat(logits, dim=1)


def _masked(logits: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    return logits if mask is None else logits.masked_fill(mask, float("-inf"))


def kgc_loss(
    queries: torch.Tensor,
    tails: torch.Tensor,
    log_inv_temperature: torch.Tensor,
    margin: float = 0.0,
    **negatives: torch.Tensor | None,
) -> torch.Tensor:
    """Return the mean InfoNCE loss; ``negatives`` are the optional arguments of ``kgc_logits``."""
    logits = kgc_logits(queries, tails, log_inv_temperature, margin, **negatives)
    targets = torch.arange(queries.shape[0], device=queries.device)
    return F.cross_entropy(logits.float(), targets)


class PreBatchQueue:
    """Tail embeddings (detached) and entity indices of the last ``num_batches`` batches.

    NOTE: the queue lives in memory only, so a run resumed from a checkpoint starts it empty.
    """

    def __init__(self, num_batches: int):
        if num_batches < 0:
            raise ValueError(f"--pre-batch must be >= 0 batches, got {num_batches}")
        self.batches: deque[tuple[torch.Tensor, torch.Tensor]] = deque(maxlen=num_batches)

    def __len__(self) -> int:
        return sum(entities.shape[0] for _, entities in self.batches)

    def negatives(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Return ``(embeddings (m, d), entity indices (m,))``, or None while empty."""
        if not self.batches:
            return None
        embeddings = torch.cat([e for e, _ in self.batches], dim=0)  # (m, d)
        entities = torch.cat([i for _, i in self.batches], dim=0)  # (m,)
        return embeddings, entities

    def push(self, embeddings: torch.Tensor, entities: torch.Tensor) -> None:
        """Add one batch, dropping the oldest beyond ``num_batches`` (a no-op for 0)."""
        if self.batches.maxlen:
            self.batches.append((embeddings.detach(), entities.detach()))
