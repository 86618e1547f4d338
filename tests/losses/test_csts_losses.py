"""Tests of the C-STS objectives against the formulas evaluated by hand with ``math``."""

from __future__ import annotations

import math

import pytest
import torch

from hypercl.data.csts_batching import CstsBatch
from hypercl.losses.csts import csts_loss
from hypercl.models.csts import CstsOutput

# Two quadruplets: rows 0 and 2 are c_high, rows 1 and 3 c_low; the second pair is tied.
SCORES = [0.8, 0.3, 0.5, 0.6]
LABELS = [1.0, 0.25, 0.5, 0.5]
TIED = [False, True]
TAU = 1.5

MSE = ((0.8 - 1.0) ** 2 + (0.3 - 0.25) ** 2 + (0.5 - 0.5) ** 2 + (0.6 - 0.5) ** 2) / 4


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def cosine(u: list[float], v: list[float]) -> float:
    dot = sum(a * b for a, b in zip(u, v, strict=True))
    return dot / (math.sqrt(sum(a * a for a in u)) * math.sqrt(sum(b * b for b in v)))


def training_batch(labels: list[float] = LABELS, tied: list[bool] = TIED) -> CstsBatch:
    return CstsBatch(
        labels=torch.tensor(labels),
        row_index=torch.arange(len(labels)),
        tied=torch.tensor(tied),
    )


def scores_only(scores: list[float] = SCORES) -> CstsOutput:
    return CstsOutput(scores=torch.tensor(scores, requires_grad=True))


def test_mse_averages_over_all_rows():
    loss = csts_loss(scores_only(), training_batch(), "mse")

    assert loss.item() == pytest.approx(MSE)


def test_mse_accepts_evaluation_batch():
    batch = CstsBatch(labels=torch.tensor(LABELS), row_index=torch.arange(4), tied=None)

    loss = csts_loss(scores_only(), batch, "mse")

    assert loss.item() == pytest.approx(MSE)


def test_triplet_excludes_tied_pairs_by_default():
    loss = csts_loss(scores_only(), training_batch(), "triplet")

    assert loss.item() == pytest.approx(max(0.0, 1.0 + 0.3 - 0.8))


def test_triplet_includes_tied_pairs_on_request():
    loss = csts_loss(scores_only(), training_batch(), "triplet", tied_pairs="include")

    expected = (max(0.0, 1.0 + 0.3 - 0.8) + max(0.0, 1.0 + 0.6 - 0.5)) / 2
    assert loss.item() == pytest.approx(expected)


def test_triplet_uses_margin_and_clamps_at_zero():
    output = scores_only([0.9, 0.1, 0.7, 0.4])
    loss = csts_loss(output, training_batch(tied=[False, False]), "triplet", margin=0.5)

    expected = (max(0.0, 0.5 + 0.1 - 0.9) + max(0.0, 0.5 + 0.4 - 0.7)) / 2  # (0 + 0.2) / 2
    assert loss.item() == pytest.approx(expected)


def test_triplet_mse_sums_both_terms():
    loss = csts_loss(scores_only(), training_batch(), "triplet_mse", tied_pairs="include")

    triplet = (max(0.0, 1.0 + 0.3 - 0.8) + max(0.0, 1.0 + 0.6 - 0.5)) / 2
    assert loss.item() == pytest.approx(MSE + triplet)


def test_triplet_cl_mse_excludes_tied_pairs():
    loss = csts_loss(scores_only(), training_batch(), "triplet_cl_mse", temperature=TAU)

    contrastive = -math.log(
        math.exp(0.8 / TAU) / (math.exp(0.8 / TAU) + math.exp(0.3 / TAU))
    )  # the tied second pair is left out
    assert contrastive == pytest.approx(softplus((0.3 - 0.8) / TAU))
    assert loss.item() == pytest.approx(MSE + contrastive)


def test_triplet_cl_mse_includes_tied_pairs_on_request():
    loss = csts_loss(
        scores_only(), training_batch(), "triplet_cl_mse", temperature=TAU, tied_pairs="include"
    )

    contrastive = (softplus((0.3 - 0.8) / TAU) + softplus((0.6 - 0.5) / TAU)) / 2
    assert loss.item() == pytest.approx(MSE + contrastive)


def test_all_tied_batch_gives_zero_contrastive_term():
    output = scores_only()
    batch = training_batch(tied=[True, True])

    loss = csts_loss(output, batch, "triplet_cl_mse", temperature=TAU)
    loss.backward()

    assert loss.item() == pytest.approx(MSE)
    assert torch.isfinite(output.scores.grad).all()
    assert csts_loss(scores_only(), batch, "triplet").item() == 0.0


def test_in_batch_negatives_matches_cross_entropy_by_hand():
    # Rows 0, 2: (s1, s2) under c_high; rows 1, 3: under c_low. Embeddings are 2-d.
    emb1 = [[1.0, 0.0], [0.6, 0.8], [0.0, 1.0], [1.0, 1.0]]
    emb2 = [[0.8, 0.6], [0.0, 1.0], [1.0, 2.0], [-1.0, 1.0]]
    scores = [cosine(u, v) for u, v in zip(emb1, emb2, strict=True)]
    output = CstsOutput(torch.tensor(scores), torch.tensor(emb1), torch.tensor(emb2))
    batch = training_batch(labels=[1.0, 0.0, 0.75, 0.25], tied=[False, False])

    loss = csts_loss(output, batch, "triplet_cl_mse", temperature=TAU, in_batch_negatives=True)

    labels = [1.0, 0.0, 0.75, 0.25]
    mse = sum((s - y) ** 2 for s, y in zip(scores, labels, strict=True)) / 4
    terms = []
    for i in range(2):
        p1, n1, p2, n2 = emb1[2 * i], emb1[2 * i + 1], emb2[2 * i], emb2[2 * i + 1]
        logits = [cosine(p1, p2), cosine(n1, n2), 0.5 * cosine(p1, n1), 0.5 * cosine(p2, n2)]
        logits = [value / TAU for value in logits]
        terms.append(math.log(sum(math.exp(value) for value in logits)) - logits[0])
    assert loss.item() == pytest.approx(mse + sum(terms) / 2, rel=1e-5)


def test_in_batch_negatives_needs_embeddings():
    with pytest.raises(ValueError, match=r"needs the conditioned embeddings \(emb1, emb2\)"):
        csts_loss(scores_only(), training_batch(), "triplet_cl_mse", in_batch_negatives=True)


def test_in_batch_negatives_needs_contrastive_objective():
    with pytest.raises(ValueError, match=r"in_batch_negatives=True .* the objective is 'mse'"):
        csts_loss(scores_only(), training_batch(), "mse", in_batch_negatives=True)


def test_pair_objective_rejects_evaluation_batch():
    batch = CstsBatch(labels=torch.tensor(LABELS), row_index=torch.arange(4), tied=None)

    with pytest.raises(ValueError, match=r"batch.tied is None, an evaluation batch.*'mse'"):
        csts_loss(scores_only(), batch, "triplet_cl_mse")


@pytest.mark.parametrize("temperature", [0.0, -1.0, math.nan])
def test_loss_rejects_invalid_temperature(temperature):
    with pytest.raises(ValueError, match=r"temperature must be > 0, got"):
        csts_loss(scores_only(), training_batch(), "triplet_cl_mse", temperature=temperature)


def test_loss_rejects_unknown_objective():
    with pytest.raises(ValueError, match=r"invalid objective 'infonce'; choose one of \('mse'"):
        csts_loss(scores_only(), training_batch(), "infonce")


def test_loss_rejects_unknown_tied_pairs():
    with pytest.raises(ValueError, match=r"invalid tied_pairs 'drop'; choose one of"):
        csts_loss(scores_only(), training_batch(), "triplet", tied_pairs="drop")


def test_loss_rejects_hidden_labels():
    batch = training_batch(labels=[1.0, math.nan, 0.5, 0.5])

    with pytest.raises(ValueError, match=r"hidden labels \(NaN, from the test split\)"):
        csts_loss(scores_only(), batch, "mse")


def test_loss_rejects_scores_not_matching_quadruplets():
    output = scores_only([0.1, 0.2, 0.3])
    batch = training_batch(labels=[1.0, 0.0, 0.5], tied=[False, False])

    with pytest.raises(ValueError, match=r"a batch of 2 quadruplets needs 4 scores, got 3"):
        csts_loss(output, batch, "triplet")
