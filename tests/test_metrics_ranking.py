"""Tests of the filtered ranking metrics on hand-made scores."""

from __future__ import annotations

import pytest
import torch

from hypercl.metrics import filtered_ranks, ranking_metrics


def test_filtered_ranks_count_strictly_higher_scores():
    scores = torch.tensor([[0.9, 0.5, 0.5, 0.1], [0.2, 0.4, 0.3, 0.8]])
    gold = torch.tensor([1, 0])
    # Row 0: only 0.9 is higher, the tie at 0.5 counts for the gold entity. Row 1: 3 higher.
    assert filtered_ranks(scores, gold).tolist() == [2, 4]


def test_filtered_ranks_ties_all_rank_first():
    scores = torch.tensor([[0.7, 0.7, 0.7]])
    for gold in range(3):
        assert filtered_ranks(scores, torch.tensor([gold])).tolist() == [1]


def test_filtered_ranks_drop_other_true_answers():
    scores = torch.tensor([[0.9, 0.5, 0.5, 0.1], [0.2, 0.4, 0.3, 0.8]])
    gold = torch.tensor([1, 0])
    mask = torch.tensor([[True, False, False, False], [False, True, False, True]])
    assert filtered_ranks(scores, gold, mask).tolist() == [1, 2]


def test_filtered_ranks_never_filter_gold():
    scores = torch.tensor([[0.9, 0.5, 0.6]])
    mask = torch.tensor([[False, True, False]])
    assert filtered_ranks(scores, torch.tensor([1]), mask).tolist() == [3]
    assert mask.tolist() == [[False, True, False]]  # the caller's mask is left unchanged


def test_filtered_ranks_reject_bad_shapes():
    with pytest.raises(ValueError, match="scores must be"):
        filtered_ranks(torch.zeros(2, 3), torch.tensor([0, 1, 2]))


def test_ranking_metrics_by_hand():
    metrics = ranking_metrics(torch.tensor([1, 2, 4, 11]))
    assert metrics["mrr"] == pytest.approx((1 + 1 / 2 + 1 / 4 + 1 / 11) / 4)
    assert metrics["hits1"] == pytest.approx(0.25)
    assert metrics["hits3"] == pytest.approx(0.5)
    assert metrics["hits10"] == pytest.approx(0.75)


def test_ranking_metrics_reject_empty():
    with pytest.raises(ValueError, match="at least one rank"):
        ranking_metrics(torch.tensor([], dtype=torch.long))
