"""C-STS training objectives: MSE regression of the score, quadruplet margin and contrastive terms.

A training batch contains m quadruplets as 2m rows: row 2i is the sentence pair under c_high and
row 2i+1 under c_low. With p1, p2 the conditioned embeddings of s1, s2 under c_high and
n1, n2 under c_low, cos_p = cos(p1, p2) is the score of row 2i and cos_n = cos(n1, n2) that
of row 2i+1.

- ``mse``: mean over the 2m rows of (score - y')², y' = (y - 1) / 4.
- ``triplet``: mean over the pairs of max(0, margin + cos_n - cos_p), margin 1.
- ``triplet_mse``: the sum of the two above.
- ``triplet_cl_mse`` (Hyper-CL): mse plus the mean of softplus((cos_n - cos_p) / τ), which is
  -log(e^(cos_p/τ) / (e^(cos_p/τ) + e^(cos_n/τ))). With ``in_batch_negatives`` the
  contrastive term is instead a cross-entropy over the logits
  [cos_p, cos_n, 0.5 cos(p1, n1), 0.5 cos(p2, n2)] / τ with target 0; it uses no other
  quadruplet of the batch.

A tied pair (both labels equal) has no true positive. With ``tied_pairs="exclude"`` the
margin and contrastive terms average over the untied pairs only (0 when all are tied), and
"include" keeps them, as Hyper-CL's released code does. The MSE term always uses every row.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch.nn import functional as F

from hypercl.data.csts_batching import CstsBatch
from hypercl.training.config import TIED_PAIRS

if TYPE_CHECKING:
    from hypercl.models.csts import CstsOutput

OBJECTIVES = ("mse", "triplet", "triplet_mse", "triplet_cl_mse")


def validate_loss_options(
    objective: str,
    temperature: float,
    in_batch_negatives: bool = False,
    tied_pairs: str = "exclude",
    margin: float = 1.0,
) -> None:
    """Raise ``ValueError`` naming the option, its value and the allowed values."""
    if objective not in OBJECTIVES:
        raise ValueError(f"invalid objective {objective!r}; choose one of {OBJECTIVES}")
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    if in_batch_negatives and objective != "triplet_cl_mse":
        raise ValueError(
            f"in_batch_negatives=True changes the contrastive term of 'triplet_cl_mse', "
            f"but the objective is {objective!r}; set in_batch_negatives=False or use "
            "objective 'triplet_cl_mse'"
        )
    if tied_pairs not in TIED_PAIRS:
        raise ValueError(f"invalid tied_pairs {tied_pairs!r}; choose one of {TIED_PAIRS}")
    if not (math.isfinite(margin) and margin >= 0):
        raise ValueError(f"margin must be a finite number >= 0, got {margin!r}")


def mse_term(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Return the mean squared error between scores and scaled labels over all rows."""
    if torch.isnan(labels).any():
        raise ValueError(
            "the batch has hidden labels (NaN, from the test split), so no loss is defined; "
            "compute losses on the training or validation split only"
        )
    return F.mse_loss(scores.float(), labels.to(device=scores.device, dtype=torch.float32))


def masked_mean(values: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Return the mean of ``values`` where ``keep`` is true, or a 0 in the graph when none is."""
    keep = keep.to(values.dtype)  # (m,)
    return (values * keep).sum() / keep.sum().clamp(min=1.0)


def margin_term(cos_p: torch.Tensor, cos_n: torch.Tensor, margin: float) -> torch.Tensor:
    """Return max(0, margin + cos_n - cos_p) per pair (m,)."""
    return F.relu(margin + cos_n - cos_p)


def contrastive_term(cos_p: torch.Tensor, cos_n: torch.Tensor, temperature: float) -> torch.Tensor:
    """Return softplus((cos_n - cos_p) / τ) per pair (m,), a cross-entropy with target cos_p."""
    return F.softplus((cos_n - cos_p) / temperature)


def in_batch_contrastive_term(output: CstsOutput, temperature: float) -> torch.Tensor:
    """Return the cross-entropy of the in-batch logits per pair (m,), with target cos_p."""
    if output.emb1 is None or output.emb2 is None:
        raise ValueError(
            "in_batch_negatives=True needs the conditioned embeddings (emb1, emb2), which "
            "only the tri_encoder and bi_encoder return; set in_batch_negatives=False"
        )

    p1, n1 = output.emb1[0::2], output.emb1[1::2]  # (m, d) each
    p2, n2 = output.emb2[0::2], output.emb2[1::2]  # (m, d) each
    logits = torch.stack(
        [
            output.scores[0::2],
            output.scores[1::2],
            0.5 * F.cosine_similarity(p1, n1, dim=-1),
            0.5 * F.cosine_similarity(p2, n2, dim=-1),
        ],
        dim=1,
    )  # (m, 4)
    target = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)  # (m,)
    return F.cross_entropy(logits / temperature, target, reduction="none")  # (m,)


def csts_loss(
    output: CstsOutput,
    batch: CstsBatch,
    objective: str,
    temperature: float = 1.0,
    in_batch_negatives: bool = False,
    tied_pairs: str = "exclude",
    margin: float = 1.0,
) -> torch.Tensor:
    """Return the scalar loss of ``objective`` (one of ``OBJECTIVES``) for one batch.

    Evaluation batches (``batch.tied`` is None) define only ``mse``.
    """
    validate_loss_options(objective, temperature, in_batch_negatives, tied_pairs, margin)
    scores = output.scores  # (2m,) for training batches

    mse = mse_term(scores, batch.labels)
    if objective == "mse":
        return mse

    if batch.tied is None:
        raise ValueError(
            f"objective {objective!r} compares the two rows of each quadruplet, but this batch "
            "has no quadruplets (batch.tied is None, an evaluation batch); use objective 'mse'"
        )
    if scores.shape[0] != 2 * batch.tied.shape[0]:
        raise ValueError(
            f"a batch of {batch.tied.shape[0]} quadruplets needs {2 * batch.tied.shape[0]} "
            f"scores, got {scores.shape[0]}; build training batches with collate_quadruplets"
        )

    cos_p, cos_n = scores[0::2], scores[1::2]  # (m,) each
    tied = batch.tied.to(scores.device)  # (m,)
    keep = ~tied if tied_pairs == "exclude" else torch.ones_like(tied)

    if objective in ("triplet", "triplet_mse"):
        triplet = masked_mean(margin_term(cos_p, cos_n, margin), keep)
        return triplet if objective == "triplet" else triplet + mse

    if in_batch_negatives:
        contrastive = in_batch_contrastive_term(output, temperature)  # (m,)
    else:
        contrastive = contrastive_term(cos_p, cos_n, temperature)  # (m,)
    return mse + masked_mean(contrastive, keep)
