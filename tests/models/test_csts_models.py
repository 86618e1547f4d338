"""Tests of the C-STS tri-, bi- and cross-encoder on a tiny random BERT and synthetic rows."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch.nn import functional as F

from hypercl.data.csts import CstsExample, Quadruplet
from hypercl.data.csts_batching import CstsCollator, CstsTokenizedSplit
from hypercl.losses.csts import csts_loss
from hypercl.models.csts import (
    CstsBiEncoder,
    CstsCrossEncoder,
    CstsTriEncoder,
    build_csts_model,
    encoder_modules,
)
from hypercl.models.encoder import load_encoder
from hypercl.training.config import TrainConfig
from tests.tiny_model import write_tiny_bert

EXAMPLES = [
    CstsExample("the man plays guitar", "a woman runs in the park", "the action", 2, line=2),
    CstsExample("the man plays guitar", "a woman runs in the park", "the person", 4, line=3),
    CstsExample("a red ball", "the small dog eats", "the color", 1, line=4),
    CstsExample("a red ball", "the small dog eats", "the action", 1, line=5),
]
QUADRUPLETS = [Quadruplet(high=1, low=0, tied=False), Quadruplet(high=2, low=3, tied=True)]


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    return write_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture
def loaded(tiny_bert):
    return load_encoder(str(tiny_bert), "cls")


def make_config(**changes) -> TrainConfig:
    return dataclasses.replace(TrainConfig(pooler="cls", dropout=0.0), **changes)


def train_batch(tokenizer, encoding: str, quadruplets=QUADRUPLETS):
    split = CstsTokenizedSplit(EXAMPLES, tokenizer, encoding, max_seq_length=32)
    return CstsCollator(split).collate_quadruplets(quadruplets)


def row_by_row_scores(model, tokenizer, encoding: str, rows: list[int]) -> list[float]:
    split = CstsTokenizedSplit(EXAMPLES, tokenizer, encoding, max_seq_length=32)
    collator = CstsCollator(split)
    with torch.no_grad():
        return [model(collator.collate_rows([row])).scores.item() for row in rows]


def count_rows(module: torch.nn.Module) -> list[int]:
    """Record the number of sequences (rows of input_ids) of every call to ``module``."""
    seen: list[int] = []
    module.register_forward_hook(
        lambda mod, args, kwargs, out: seen.append(kwargs["input_ids"].shape[0]), with_kwargs=True
    )
    return seen


@pytest.mark.parametrize(
    ("head", "scaler"), [("hypernet", 1), ("hypernet", 4), ("concat", 1), ("hadamard", 1)]
)
def test_tri_encoder_scores_are_cosines(loaded, head, scaler):
    encoder, tokenizer = loaded
    model = build_csts_model(make_config(head=head, scaler=scaler), encoder).eval()

    output = model(train_batch(tokenizer, "tri_encoder"))

    assert output.scores.shape == (4,)
    assert output.emb1.shape == (4, 32)
    assert output.emb2.shape == (4, 32)
    torch.testing.assert_close(output.scores, F.cosine_similarity(output.emb1, output.emb2))


@pytest.mark.parametrize("encoding", ["tri_encoder", "bi_encoder", "cross_encoder"])
def test_batched_scores_match_row_by_row(loaded, encoding):
    encoder, tokenizer = loaded
    model = build_csts_model(make_config(encoding=encoding, objective="mse"), encoder).eval()

    with torch.no_grad():
        batched = model(train_batch(tokenizer, encoding)).scores.tolist()
    alone = row_by_row_scores(model, tokenizer, encoding, [1, 0, 2, 3])

    assert batched == pytest.approx(alone, abs=1e-5)


def test_tri_encoder_encodes_each_sentence_and_condition_once(loaded):
    encoder, tokenizer = loaded
    model = build_csts_model(make_config(head="hypernet", scaler=4), encoder).eval()
    encoded = count_rows(model.encoder)
    hypernetwork_rows: list[int] = []
    model.head.hypernetwork_a.register_forward_hook(
        lambda module, args, out: hypernetwork_rows.append(args[0].shape[0])
    )

    model(train_batch(tokenizer, "tri_encoder", QUADRUPLETS[:1]))

    assert encoded == [2, 2]  # s1 and s2, then c_high and c_low
    assert hypernetwork_rows == [2]


def test_tri_encoder_shares_conditions_across_quadruplets(loaded):
    encoder, tokenizer = loaded
    model = build_csts_model(make_config(), encoder).eval()
    encoded = count_rows(model.encoder)

    model(train_batch(tokenizer, "tri_encoder"))

    assert encoded == [4, 3]  # 4 sentences; "the action" serves both quadruplets


def test_tri_encoder_dual_uses_copy_for_conditions(loaded):
    encoder, tokenizer = loaded
    model = build_csts_model(make_config(dual=True), encoder).eval()
    sentence_rows = count_rows(model.encoder)
    condition_rows = count_rows(model.condition_encoder)

    model(train_batch(tokenizer, "tri_encoder", QUADRUPLETS[:1]))

    assert sentence_rows == [2]
    assert condition_rows == [2]
    assert model.condition_encoder is not model.encoder
    assert set(encoder_modules(model)) == {"encoder", "condition_encoder"}
    for first, second in zip(
        model.encoder.parameters(), model.condition_encoder.parameters(), strict=True
    ):
        assert torch.equal(first, second)
        assert first.data_ptr() != second.data_ptr()


def test_tri_encoder_none_head_skips_conditions(loaded):
    encoder, tokenizer = loaded
    model = build_csts_model(make_config(head="none"), encoder).eval()
    encoded = count_rows(model.encoder)

    output = model(train_batch(tokenizer, "tri_encoder"))

    assert encoded == [4]
    assert model.condition_transform is None
    assert output.scores[0].item() == pytest.approx(output.scores[1].item(), abs=1e-6)


def test_bi_encoder_encodes_distinct_pairs(loaded):
    encoder, tokenizer = loaded
    model = build_csts_model(make_config(encoding="bi_encoder"), encoder).eval()
    encoded = count_rows(model.encoder)

    output = model(train_batch(tokenizer, "bi_encoder", QUADRUPLETS[:1]))

    assert isinstance(model, CstsBiEncoder)
    assert encoded == [4]
    torch.testing.assert_close(output.scores, F.cosine_similarity(output.emb1, output.emb2))


def test_cross_encoder_regresses_pooled_joint_encoding(loaded):
    encoder, tokenizer = loaded
    model = build_csts_model(
        make_config(encoding="cross_encoder", objective="mse"), encoder
    ).eval()
    batch = train_batch(tokenizer, "cross_encoder")

    with torch.no_grad():
        output = model(batch)
        pooled = model.encoder(**batch.joint)
        expected = pooled @ model.regressor.weight[0] + model.regressor.bias[0]

    assert isinstance(model, CstsCrossEncoder)
    assert output.emb1 is None
    torch.testing.assert_close(output.scores, expected)


def test_loss_gradient_reaches_encoder_and_head(loaded):
    encoder, tokenizer = loaded
    config = make_config(scaler=8, objective="triplet_cl_mse", in_batch_negatives=True)
    model = build_csts_model(config, encoder).train()
    batch = train_batch(tokenizer, "tri_encoder")

    loss = csts_loss(model(batch), batch, config.objective, config.temperature, True)
    loss.backward()

    assert torch.isfinite(loss)
    assert model.head.hypernetwork_a.weight.grad.abs().sum() > 0
    assert model.condition_transform.linear.weight.grad.abs().sum() > 0
    embeddings = model.encoder.model.get_input_embeddings()
    assert embeddings.weight.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("encoding", "head", "scaler"),
    [
        ("tri_encoder", "hypernet", 1),
        ("tri_encoder", "hypernet", 4),
        ("tri_encoder", "concat", 1),
        ("tri_encoder", "hadamard", 1),
        ("bi_encoder", "none", 1),
        ("cross_encoder", "none", 1),
    ],
)
def test_autocast_keeps_scores_and_loss_float32(loaded, encoding, head, scaler):
    encoder, tokenizer = loaded
    objective = "mse" if encoding == "cross_encoder" else "triplet_cl_mse"
    config = make_config(encoding=encoding, head=head, scaler=scaler, objective=objective)
    model = build_csts_model(config, encoder).train()
    batch = train_batch(tokenizer, encoding)

    with torch.autocast("cpu", dtype=torch.bfloat16):
        output = model(batch)
        loss = csts_loss(output, batch, objective, config.temperature)
    loss.backward()

    assert output.scores.dtype == torch.float32
    assert loss.dtype == torch.float32
    assert torch.isfinite(loss)
    if output.emb1 is not None:
        assert output.emb1.dtype == torch.float32


def test_build_builds_tri_encoder_by_default(loaded):
    encoder, _ = loaded

    model = build_csts_model(make_config(), encoder)

    assert isinstance(model, CstsTriEncoder)
    assert model.head.rank == 32
    assert set(encoder_modules(model)) == {"encoder"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"encoding": "poly_encoder"}, r"invalid encoding 'poly_encoder'; choose one of"),
        ({"head": "attention"}, r"invalid head 'attention'; choose one of"),
        ({"scaler": 33}, r"scaler 33 is larger than the hidden size d=32"),
        ({"pooler": "max"}, r"invalid pooler 'max'; choose one of \('cls', 'avg'\)"),
        ({"pooler": "avg"}, r"loaded with pooler 'cls' but the config asks for pooler 'avg'"),
        ({"objective": "ranking"}, r"invalid objective 'ranking'; choose one of"),
        ({"temperature": 0.0}, r"temperature must be > 0, got 0.0"),
        (
            {"encoding": "cross_encoder", "objective": "triplet_cl_mse"},
            r"use objective 'mse' with the cross_encoder",
        ),
        ({"encoding": "bi_encoder", "dual": True}, r"dual=True .* needs encoding 'tri_encoder'"),
        ({"head": "none", "dual": True}, r"head 'none' ignores the condition"),
        ({"objective": "mse", "in_batch_negatives": True}, r"in_batch_negatives=True changes"),
        ({"tied_pairs": "skip"}, r"invalid tied_pairs 'skip'"),
    ],
)
def test_build_rejects_invalid_config(loaded, changes, message):
    encoder, _ = loaded

    with pytest.raises(ValueError, match=message):
        build_csts_model(make_config(**changes), encoder)
