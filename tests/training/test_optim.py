import pytest
import torch
from torch import nn

from hypercl.training.optim import (
    build_optimizer,
    count_optimizer_steps,
    linear_schedule,
    parameter_groups,
)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.dense = nn.Linear(3, 3)
        self.LayerNorm = nn.LayerNorm(3)
        self.log_inv_temperature = nn.Parameter(torch.tensor(3.0))


def test_parameter_groups_no_decay_on_bias_and_layernorm():
    block = Block()
    groups = parameter_groups(block, weight_decay=0.1)
    decayed = {id(p) for p in groups[0]["params"]}
    not_decayed = {id(p) for p in groups[1]["params"]}
    assert decayed == {id(block.dense.weight)}
    assert not_decayed == {
        id(block.dense.bias),
        id(block.LayerNorm.weight),
        id(block.LayerNorm.bias),
        id(block.log_inv_temperature),
    }
    assert groups[0]["weight_decay"] == 0.1
    assert groups[1]["weight_decay"] == 0.0


@pytest.mark.parametrize(
    ("batches", "epochs", "accumulation", "expected"),
    [(10, 3, 1, 30), (10, 3, 4, 9), (8, 2, 4, 4), (1, 5, 2, 5)],
)
def test_count_optimizer_steps_counts_partial_windows(batches, epochs, accumulation, expected):
    assert count_optimizer_steps(batches, epochs, accumulation) == expected


def test_linear_schedule_warmup_then_decay_to_zero():
    parameter = nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=1.0)
    scheduler = linear_schedule(optimizer, total_steps=10, warmup_ratio=0.2)
    rates = []
    for _ in range(10):
        rates.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    # warmup steps = int(0.2 * 10) = 2: factors 1/3, 2/3, then (10 - step) / 8
    expected = [1 / 3, 2 / 3, 1.0, 7 / 8, 6 / 8, 5 / 8, 4 / 8, 3 / 8, 2 / 8, 1 / 8]
    assert rates == pytest.approx(expected)
    assert scheduler.get_last_lr()[0] == pytest.approx(0.0)


def test_linear_schedule_rejects_bad_warmup_ratio():
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    with pytest.raises(ValueError, match=r"--warmup-ratio must be in \[0, 1\), got 1.5"):
        linear_schedule(optimizer, total_steps=10, warmup_ratio=1.5)


def test_build_optimizer_rejects_non_positive_lr():
    with pytest.raises(ValueError, match="--lr must be > 0, got 0"):
        build_optimizer(Block(), lr=0, weight_decay=0.0)
