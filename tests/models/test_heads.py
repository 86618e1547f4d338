"""Tests of the condition heads against hand computations on tiny tensors."""

from __future__ import annotations

import math

import pytest
import torch

from hypercl.models.heads import (
    HEADS,
    ConditionTransform,
    HypernetHead,
    build_head,
    group_rows,
    hypernet_num_parameters,
    low_rank_dim,
)


def set_linear(linear: torch.nn.Linear, weight: list[list[float]], bias: list[float]) -> None:
    with torch.no_grad():
        linear.weight.copy_(torch.tensor(weight))
        linear.bias.copy_(torch.tensor(bias))


def linear_by_hand(weight: list[list[float]], bias: list[float], x: list[float]) -> list[float]:
    return [
        sum(w * v for w, v in zip(row, x, strict=True)) + b
        for row, b in zip(weight, bias, strict=True)
    ]


def row_times_matrix(h: list[float], matrix: list[list[float]]) -> list[float]:
    columns = len(matrix[0])
    return [sum(h[i] * matrix[i][j] for i in range(len(h))) for j in range(columns)]


def gelu_by_hand(x: float) -> float:
    return 0.5 * x * (1.0 + math.erf(x / math.sqrt(2.0)))


def weights(rows: int, columns: int, offset: float) -> list[list[float]]:
    """Small distinct numbers, so that a transposed or shifted index gives a different result."""
    return [
        [((r * columns + c) % 7 - 3) / 4 + offset for c in range(columns)] for r in range(rows)
    ]


SENTENCES = [[2.0, -1.0], [0.5, 1.5], [-1.0, 3.0]]
CONDITIONS = [[1.0, 2.0], [-0.5, 1.0]]
CONDITION_INDEX = [1, 0, 1]


def test_condition_transform_is_linear_map():
    transform = ConditionTransform(2, dropout=0.5).eval()
    weight, bias = [[1.0, -2.0], [0.5, 3.0]], [0.25, -1.0]
    set_linear(transform.linear, weight, bias)

    output = transform(torch.tensor(CONDITIONS))

    for row, condition in enumerate(CONDITIONS):
        expected = linear_by_hand(weight, bias, condition)
        assert output[row].tolist() == pytest.approx(expected)


def test_hypernet_full_rank_matches_hand_computation():
    d = 2
    head = build_head("hypernet", d, scaler=1, dropout=0.0)
    weight, bias = weights(d * d, d, 0.0), [0.5, -1.0, 0.0, 2.0]
    set_linear(head.hypernetwork, weight, bias)

    output = head(torch.tensor(SENTENCES), torch.tensor(CONDITIONS), torch.tensor(CONDITION_INDEX))

    for row, h in enumerate(SENTENCES):
        flat = linear_by_hand(weight, bias, CONDITIONS[CONDITION_INDEX[row]])
        matrix = [flat[i * d : (i + 1) * d] for i in range(d)]  # W_c[i][j] = flat[i * d + j]
        assert output[row].tolist() == pytest.approx(row_times_matrix(h, matrix))


def test_hypernet_low_rank_matches_hand_computation():
    d, rank = 4, 2
    head = build_head("hypernet", d, scaler=2, dropout=0.0)
    assert head.rank == rank
    weight_a, bias_a = weights(d * rank, d, 0.1), [0.1 * i for i in range(d * rank)]
    weight_b, bias_b = weights(rank * d, d, -0.2), [0.3 - 0.1 * i for i in range(rank * d)]
    set_linear(head.hypernetwork_a, weight_a, bias_a)
    set_linear(head.hypernetwork_b, weight_b, bias_b)
    sentences = [[1.0, -2.0, 0.5, 3.0], [0.0, 1.0, -1.0, 2.0], [2.0, 2.0, -0.5, -1.0]]
    conditions = [[0.5, -1.0, 2.0, 1.0], [1.0, 0.0, -1.5, 0.5]]

    output = head(torch.tensor(sentences), torch.tensor(conditions), torch.tensor([1, 0, 1]))

    for row, h in enumerate(sentences):
        condition = conditions[[1, 0, 1][row]]
        flat_a = linear_by_hand(weight_a, bias_a, condition)
        flat_b = linear_by_hand(weight_b, bias_b, condition)
        a = [flat_a[i * rank : (i + 1) * rank] for i in range(d)]  # d x K
        b = [flat_b[k * d : (k + 1) * d] for k in range(rank)]  # K x d
        expected = row_times_matrix(row_times_matrix(h, a), b)
        assert output[row].tolist() == pytest.approx(expected, rel=1e-5, abs=1e-5)


def test_hypernet_low_rank_equals_product_of_factors():
    torch.manual_seed(0)
    head = build_head("hypernet", 8, scaler=3, dropout=0.0)
    h = torch.randn(5, 8)
    conditions = torch.randn(3, 8)
    condition_index = torch.tensor([2, 0, 2, 1, 0])

    a, b = head.condition_matrices(conditions)
    output = head(h, conditions, condition_index)

    assert a.shape == (3, 8, 2)
    assert b.shape == (3, 2, 8)
    for row in range(5):
        full_matrix = a[condition_index[row]] @ b[condition_index[row]]  # (d, d)
        torch.testing.assert_close(output[row], h[row] @ full_matrix)


@pytest.mark.parametrize(
    ("scaler", "layers"), [(1, ["hypernetwork"]), (2, ["hypernetwork_a", "hypernetwork_b"])]
)
def test_hypernet_runs_once_per_distinct_condition(scaler, layers):
    head = build_head("hypernet", 4, scaler=scaler, dropout=0.0)
    rows_seen: list[int] = []
    for name in layers:
        layer = getattr(head, name)
        layer.register_forward_hook(lambda module, args, out: rows_seen.append(args[0].shape[0]))

    head(torch.randn(6, 4), torch.randn(2, 4), torch.tensor([0, 1, 1, 0, 1, 1]))

    assert rows_seen == [2] * len(layers)


def test_hypernet_gradient_reaches_hypernetwork_and_sentences():
    head = build_head("hypernet", 4, scaler=2, dropout=0.0)
    h = torch.randn(3, 4, requires_grad=True)

    head(h, torch.randn(2, 4), torch.tensor([1, 1, 0])).sum().backward()

    assert head.hypernetwork_a.weight.grad.abs().sum() > 0
    assert head.hypernetwork_b.weight.grad.abs().sum() > 0
    assert h.grad.abs().sum() > 0


def test_group_rows_places_each_row_in_its_condition_group():
    h = torch.arange(10.0).view(5, 2)
    condition_index = torch.tensor([2, 0, 2, 2, 0])

    grouped, slot = group_rows(h, condition_index, num_conditions=3)

    assert grouped.shape == (3, 3, 2)
    assert slot.tolist() == [0, 0, 1, 2, 1]
    torch.testing.assert_close(grouped[condition_index, slot], h)
    assert grouped[1].abs().sum() == 0  # condition 1 has no row


def test_concat_head_matches_hand_computation():
    d = 2
    head = build_head("concat", d)
    weight, bias = weights(d, 2 * d, 0.0), [0.5, -0.25]
    set_linear(head.linear, weight, bias)

    output = head(torch.tensor(SENTENCES), torch.tensor(CONDITIONS), torch.tensor(CONDITION_INDEX))

    for row, h in enumerate(SENTENCES):
        joined = h + CONDITIONS[CONDITION_INDEX[row]]
        expected = [gelu_by_hand(x) for x in linear_by_hand(weight, bias, joined)]
        assert output[row].tolist() == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_hadamard_head_multiplies_elementwise():
    head = build_head("hadamard", 2)

    output = head(torch.tensor(SENTENCES), torch.tensor(CONDITIONS), torch.tensor(CONDITION_INDEX))

    for row, h in enumerate(SENTENCES):
        condition = CONDITIONS[CONDITION_INDEX[row]]
        assert output[row].tolist() == pytest.approx([h[0] * condition[0], h[1] * condition[1]])


def test_none_head_returns_sentence_embedding():
    head = build_head("none", 2)
    h = torch.tensor(SENTENCES)

    output = head(h, torch.tensor(CONDITIONS), torch.tensor(CONDITION_INDEX))

    assert torch.equal(output, h)
    assert not head.uses_condition
    assert sum(p.numel() for p in head.parameters()) == 0


def test_hypernet_num_parameters_formula():
    assert low_rank_dim(768, 12) == 64
    assert low_rank_dim(1024, 12) == 85
    assert hypernet_num_parameters(768, 1) == 768**3 + 768**2
    assert hypernet_num_parameters(768, 1) == 453_574_656  # 453.6 M
    assert hypernet_num_parameters(768, 12) == 2 * (768 * 768 * 64 + 768 * 64)
    assert hypernet_num_parameters(768, 12) == 75_595_776  # 75.6 M


@pytest.mark.parametrize(("scaler", "expected"), [(1, 8**3 + 8**2), (3, 2 * (8 * 8 * 2 + 8 * 2))])
def test_hypernet_num_parameters_matches_module(scaler, expected):
    head = HypernetHead(8, scaler)

    actual = sum(p.numel() for p in head.parameters())

    assert actual == expected
    assert hypernet_num_parameters(8, scaler) == expected


def test_build_head_rejects_unknown_head():
    with pytest.raises(ValueError, match=r"invalid head 'hyper'; choose one of \('hypernet'"):
        build_head("hyper", 8)


def test_build_head_rejects_scaler_larger_than_hidden_size():
    message = r"scaler 40 is larger than the hidden size d=32; K = floor\(d/scaler\) would be 0"
    with pytest.raises(ValueError, match=message):
        build_head("hypernet", 32, scaler=40)


@pytest.mark.parametrize("scaler", [0, -2, 1.5, True])
def test_build_head_rejects_invalid_scaler(scaler):
    with pytest.raises(ValueError, match=r"invalid scaler .*: it must be an integer >= 1"):
        build_head("hypernet", 32, scaler=scaler)


def test_build_head_rejects_invalid_dropout():
    with pytest.raises(ValueError, match=r"invalid dropout 1.0: use a probability in \[0, 1\)"):
        build_head("concat", 8, dropout=1.0)


def test_build_head_builds_every_head():
    for name in HEADS:
        head = build_head(name, 8, scaler=2)
        assert head(torch.randn(3, 8), torch.randn(2, 8), torch.tensor([0, 1, 0])).shape == (3, 8)
