"""Condition heads g(h, c'): they turn a sentence embedding into its embedding under a condition.

Every head takes ``h`` (n, d), the transformed embeddings of the batch's distinct conditions
``condition`` (n_cond, d) and ``condition_index`` (n,), the condition of each row. Work that
depends only on the condition, the hypernetwork's matrices above all, runs once per distinct
condition, and the rows are then grouped by condition for batched matrix products.

- ``hypernet``, full rank (scaler 1): W_c = H(dropout(c')) reshaped to d x d, g = h W_c.
- ``hypernet``, low rank K = floor(d / scaler): A = P(dropout(c')) (d x K),
  B = Q(dropout(c')) (K x d), g = (h A) B, without forming the d x d product.
- ``concat``: g = GELU(W [h; c'] + b) with W of shape d x 2d.
- ``hadamard``: g = h * c' (element-wise).
- ``none``: g = h, the condition is ignored (a plain tri-encoder).
"""

from __future__ import annotations

import numbers

import torch
from torch import nn
from torch.nn import functional as F

HEADS = ("hypernet", "concat", "hadamard", "none")


def low_rank_dim(hidden_size: int, scaler: int) -> int:
    """Return the rank K = floor(hidden_size / scaler) of the low-rank hypernetwork."""
    return hidden_size // scaler


def hypernet_num_parameters(hidden_size: int, scaler: int) -> int:
    """Return the hypernetwork's parameter count.

    It is d³ + d² at full rank (scaler 1) and 2 (d² K + d K) at rank K.
    """
    d = hidden_size
    if scaler == 1:
        return d * d * d + d * d

    rank = low_rank_dim(hidden_size, scaler)
    return 2 * (d * d * rank + d * rank)


class ConditionTransform(nn.Module):
    """Condition transform c' = W_t dropout(h_c) + b_t, a d -> d linear map without activation."""

    def __init__(self, hidden_size: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(hidden_size, hidden_size)

    def forward(self, condition: torch.Tensor) -> torch.Tensor:
        return self.linear(self.dropout(condition))  # (n_cond, d)


def group_rows(
    h: torch.Tensor, condition_index: torch.Tensor, num_conditions: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Place each row of ``h`` in its condition's group, zero-padded to the largest group.

    Returns ``grouped`` (n_cond, max_rows, d) and ``slot`` (n,), the position of each row in
    its group, so that ``grouped[condition_index, slot]`` gives back ``h``.
    """
    rows = h.shape[0]
    counts = torch.bincount(condition_index, minlength=num_conditions)  # (n_cond,)
    starts = torch.cumsum(counts, dim=0) - counts  # (n_cond,)

    # A stable sort keeps the rows of one condition in batch order, and a row's slot is its
    # rank among them.
    order = torch.argsort(condition_index, stable=True)  # (n,)
    sorted_slot = torch.arange(rows, device=h.device) - starts[condition_index[order]]  # (n,)
    slot = torch.empty_like(sorted_slot).scatter_(0, order, sorted_slot)  # (n,)

    max_rows = int(counts.max()) if rows else 0
    grouped = h.new_zeros(num_conditions, max_rows, h.shape[1])  # (n_cond, max_rows, d)
    grouped = grouped.index_put((condition_index, slot), h)
    return grouped, slot


class HypernetHead(nn.Module):
    """Hyper-CL head: a hypernetwork maps each condition to a d x d matrix or rank-K factors."""

    uses_condition = True

    def __init__(self, hidden_size: int, scaler: int = 1, dropout: float = 0.1) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.scaler = scaler
        self.rank = low_rank_dim(hidden_size, scaler)
        self.dropout = nn.Dropout(dropout)

        d = hidden_size
        if scaler == 1:
            self.hypernetwork = nn.Linear(d, d * d)
        else:
            self.hypernetwork_a = nn.Linear(d, d * self.rank)
            self.hypernetwork_b = nn.Linear(d, self.rank * d)

    @property
    def full_rank(self) -> bool:
        return self.scaler == 1

    def condition_matrices(self, condition: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Return the per-condition matrices of the hypernetwork.

        At full rank this is (W,) with W (n_cond, d, d). At rank K it is (A, B) with
        A (n_cond, d, K) and B (n_cond, K, d).
        """
        d = self.hidden_size
        condition = self.dropout(condition)  # (n_cond, d)
        if self.full_rank:
            return (self.hypernetwork(condition).view(-1, d, d),)  # (n_cond, d, d)

        a = self.hypernetwork_a(condition).view(-1, d, self.rank)  # (n_cond, d, K)
        b = self.hypernetwork_b(condition).view(-1, self.rank, d)  # (n_cond, K, d)
        return a, b

    def forward(
        self, h: torch.Tensor, condition: torch.Tensor, condition_index: torch.Tensor
    ) -> torch.Tensor:
        matrices = self.condition_matrices(condition)
        grouped, slot = group_rows(h, condition_index, condition.shape[0])  # (n_cond, m, d)

        for matrix in matrices:
            grouped = torch.bmm(grouped, matrix)  # (n_cond, m, K) then (n_cond, m, d)

        return grouped[condition_index, slot]  # (n, d)

    def extra_repr(self) -> str:
        return f"hidden_size={self.hidden_size}, scaler={self.scaler}, rank={self.rank}"


class ConcatHead(nn.Module):
    """g = GELU(W [h; c'] + b): a linear layer over the concatenated sentence and condition."""

    uses_condition = True

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.linear = nn.Linear(2 * hidden_size, hidden_size)

    def forward(
        self, h: torch.Tensor, condition: torch.Tensor, condition_index: torch.Tensor
    ) -> torch.Tensor:
        joined = torch.cat([h, condition[condition_index]], dim=-1)  # (n, 2d)
        return F.gelu(self.linear(joined))  # (n, d)


class HadamardHead(nn.Module):
    """g = h * c': the element-wise product of sentence and condition embeddings."""

    uses_condition = True

    def forward(
        self, h: torch.Tensor, condition: torch.Tensor, condition_index: torch.Tensor
    ) -> torch.Tensor:
        return h * condition[condition_index]  # (n, d)


class IdentityHead(nn.Module):
    """g = h: the sentence embedding unchanged, the condition ignored."""

    uses_condition = False

    def forward(
        self, h: torch.Tensor, condition: torch.Tensor | None, condition_index: torch.Tensor | None
    ) -> torch.Tensor:
        return h


def validate_head_options(head: str, hidden_size: int, scaler: int, dropout: float) -> None:
    """Raise ``ValueError`` naming the argument, the value and the fix for an invalid option."""
    if head not in HEADS:
        raise ValueError(f"invalid head {head!r}; choose one of {HEADS}")
    if not isinstance(scaler, numbers.Integral) or isinstance(scaler, bool) or scaler < 1:
        raise ValueError(
            f"invalid scaler {scaler!r}: it must be an integer >= 1 "
            "(1 is the full-rank hypernetwork, S > 1 gives rank K = floor(d / S))"
        )
    if scaler > hidden_size:
        raise ValueError(
            f"scaler {scaler} is larger than the hidden size d={hidden_size}; "
            f"K = floor(d/scaler) would be 0; use a scaler between 1 and {hidden_size}"
        )
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"invalid dropout {dropout!r}: use a probability in [0, 1)")


def build_head(head: str, hidden_size: int, scaler: int = 1, dropout: float = 0.1) -> nn.Module:
    """Build the head named ``head`` (one of ``HEADS``) for embeddings of size ``hidden_size``.

    ``scaler`` sets the hypernetwork's rank, and the other heads ignore it. It is validated
    for every head, so the same scaler is valid or invalid whichever head a search picks.
    """
    validate_head_options(head, hidden_size, scaler, dropout)

    if head == "hypernet":
        return HypernetHead(hidden_size, int(scaler), dropout)
    if head == "concat":
        return ConcatHead(hidden_size)
    if head == "hadamard":
        return HadamardHead()
    return IdentityHead()
