"""Tests of the KGC InfoNCE loss against hand computations, and of the pre-batch queue."""

from __future__ import annotations

import math

import pytest
import torch

from hypercl.losses.kgc import PreBatchQueue, kgc_logits, kgc_loss

# Two queries and two tails; dot products by hand:
# q0·t0 = 0.6, q0·t1 = 0.8, q1·t0 = 0.0, q1·t1 = 1.0
QUERIES = torch.tensor([[0.6, 0.8], [0.0, 1.0]])
TAILS = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
THETA = torch.tensor(math.log(2.0))  # exp(θ) = 2


def cross_entropy(row: list[float], target: int) -> float:
    finite = [value for value in row if value != float("-inf")]
    return -row[target] + math.log(sum(math.exp(value) for value in finite))


def test_logits_apply_scale_and_margin_on_diagonal():
    logits = kgc_logits(QUERIES, TAILS, THETA, margin=0.1)
    expected = [[2 * (0.6 - 0.1), 2 * 0.8], [2 * 0.0, 2 * (1.0 - 0.1)]]
    torch.testing.assert_close(logits, torch.tensor(expected))


def test_loss_matches_hand_computation():
    loss = kgc_loss(QUERIES, TAILS, THETA, margin=0.1)
    expected = (cross_entropy([1.0, 1.6], 0) + cross_entropy([0.0, 1.8], 1)) / 2
    assert loss.item() == pytest.approx(expected, abs=1e-6)


def test_margin_raises_loss():
    with_margin = kgc_loss(QUERIES, TAILS, THETA, margin=0.1)
    without_margin = kgc_loss(QUERIES, TAILS, THETA, margin=0.0)
    assert with_margin.item() > without_margin.item()
    assert without_margin.item() == pytest.approx(
        (cross_entropy([1.2, 1.6], 0) + cross_entropy([0.0, 2.0], 1)) / 2, abs=1e-6
    )


def test_true_tail_mask_removes_negative():
    mask = torch.tensor([[False, True], [False, False]])
    loss = kgc_loss(QUERIES, TAILS, THETA, true_tail_mask=mask)
    # Row 0 keeps only its positive, so its cross-entropy is 0.
    expected = (0.0 + cross_entropy([0.0, 2.0], 1)) / 2
    assert loss.item() == pytest.approx(expected, abs=1e-6)


def test_diagonal_is_kept_when_mask_leaves_it_false():
    mask = torch.tensor([[False, True], [True, False]])
    logits = kgc_logits(QUERIES, TAILS, THETA, true_tail_mask=mask)
    assert torch.isfinite(logits.diagonal()).all()
    assert kgc_loss(QUERIES, TAILS, THETA, true_tail_mask=mask).item() == pytest.approx(0.0)


def test_pre_batch_logits_are_weighted_and_masked():
    pre_batch = torch.tensor([[0.0, 1.0], [1.0, 0.0]])  # q0: 0.8, 0.6; q1: 1.0, 0.0
    mask = torch.tensor([[False, False], [True, False]])
    logits = kgc_logits(QUERIES, TAILS, THETA, pre_batch_tails=pre_batch, pre_batch_mask=mask)

    expected = [[1.2, 1.6, 0.5 * 2 * 0.8, 0.5 * 2 * 0.6], [0.0, 2.0, float("-inf"), 0.0]]
    torch.testing.assert_close(logits, torch.tensor(expected))
    loss = kgc_loss(QUERIES, TAILS, THETA, pre_batch_tails=pre_batch, pre_batch_mask=mask)
    hand = (cross_entropy(expected[0], 0) + cross_entropy(expected[1], 1)) / 2
    assert loss.item() == pytest.approx(hand, abs=1e-6)


def test_self_negative_logit_and_mask():
    heads = torch.tensor([[0.0, 1.0], [0.6, 0.8]])  # q0·e0 = 0.8, q1·e1 = 0.8
    mask = torch.tensor([False, True])
    logits = kgc_logits(QUERIES, TAILS, THETA, self_negatives=heads, self_negative_mask=mask)
    expected = [[1.2, 1.6, 1.6], [0.0, 2.0, float("-inf")]]
    torch.testing.assert_close(logits, torch.tensor(expected))
    loss = kgc_loss(QUERIES, TAILS, THETA, self_negatives=heads, self_negative_mask=mask)
    hand = (cross_entropy(expected[0], 0) + cross_entropy(expected[1], 1)) / 2
    assert loss.item() == pytest.approx(hand, abs=1e-6)


def test_loss_gradient_reaches_temperature():
    theta = THETA.clone().requires_grad_(True)
    kgc_loss(QUERIES, TAILS, theta, margin=0.02).backward()
    assert theta.grad is not None
    assert theta.grad.item() != 0.0


def test_pre_batch_queue_keeps_last_batches_detached():
    queue = PreBatchQueue(2)
    assert queue.negatives() is None
    for step in range(3):
        embeddings = torch.full((2, 3), float(step), requires_grad=True)
        queue.push(embeddings * 1.0, torch.tensor([step, step]))

    embeddings, entities = queue.negatives()
    assert entities.tolist() == [1, 1, 2, 2]
    assert embeddings[:, 0].tolist() == [1.0, 1.0, 2.0, 2.0]
    assert not embeddings.requires_grad
    assert len(queue) == 4


def test_pre_batch_queue_of_zero_stays_empty():
    queue = PreBatchQueue(0)
    queue.push(torch.ones(2, 3), torch.tensor([0, 1]))
    assert queue.negatives() is None
    with pytest.raises(ValueError, match="--pre-batch must be >= 0"):
        PreBatchQueue(-1)
