"""Tests of the KGC bi-encoder and tri-encoder on a tiny random BERT."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from hypercl.checkpoint import save_model
from hypercl.data.kgc import load_kgc_data
from hypercl.data.kgc_batching import KgcBatcher
from hypercl.models.encoder import SentenceEncoder, load_encoder
from hypercl.models.kgc import KgcBiEncoder, KgcTriEncoder, build_kgc_model
from hypercl.training.config import TrainConfig
from tests.data.test_kgc import write_synthetic_graph
from tests.tiny_model import write_tiny_bert


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    return write_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture
def data(tmp_path):
    return load_kgc_data(write_synthetic_graph(tmp_path / "graph"))


def build(tiny_bert, **settings):
    config = TrainConfig(task="kgc", model=str(tiny_bert), pooler="avg", dropout=0.0, **settings)
    encoder, tokenizer = load_encoder(config.model, config.pooler)
    return config, build_kgc_model(config, encoder), tokenizer


def test_bi_encoder_has_two_direct_encoders(tiny_bert):
    _, model, _ = build(tiny_bert, encoding="bi_encoder")
    children = {n: c for n, c in model.named_children() if isinstance(c, SentenceEncoder)}

    assert isinstance(model, KgcBiEncoder)
    assert sorted(children) == ["encoder", "tail_encoder"]
    assert model.encoder is not model.tail_encoder
    first = dict(model.encoder.named_parameters())
    for name, parameter in model.tail_encoder.named_parameters():
        assert torch.equal(parameter, first[name])


def test_temperature_parameter_starts_at_log_inverse(tiny_bert):
    _, model, _ = build(tiny_bert, encoding="bi_encoder", init_temperature=0.05)
    assert model.log_inv_temperature.item() == pytest.approx(math.log(20.0))
    assert model.log_inv_temperature.requires_grad


def test_bi_encoder_outputs_are_normalised(tiny_bert, data):
    _, model, tokenizer = build(tiny_bert, encoding="bi_encoder")
    batcher = KgcBatcher(data, tokenizer, "bi_encoder", 32)
    batch = batcher.train_batch(data.train, self_negative=True)
    output = model(batch)

    assert output.queries.shape == (4, 32)
    assert output.tails.shape == (4, 32)
    assert output.heads.shape == (4, 32)
    torch.testing.assert_close(output.queries.norm(dim=-1), torch.ones(4))
    torch.testing.assert_close(output.tails.norm(dim=-1), torch.ones(4))


@pytest.mark.parametrize(
    "head,scaler", [("hypernet", 1), ("hypernet", 4), ("concat", 1), ("hadamard", 1)]
)
def test_tri_encoder_query_matches_manual_computation(tiny_bert, data, head, scaler):
    _, model, tokenizer = build(tiny_bert, encoding="tri_encoder", head=head, scaler=scaler)
    model.eval()
    batcher = KgcBatcher(data, tokenizer, "tri_encoder", 32)
    batch = batcher.query_batch(torch.tensor([0, 1, 2]), torch.tensor([0, 1, 0]))

    with torch.no_grad():
        heads = F.normalize(model.encoder(**batch.head_tokens.inputs()), dim=-1)  # (3, d)
        relations = F.normalize(model.encoder(**batch.relation_tokens.inputs()), dim=-1)  # (2, d)
        conditions = model.transform(relations)
        rows = [
            model.head(heads[i : i + 1], conditions, batch.relation_index[i : i + 1])
            for i in range(3)
        ]
        expected = F.normalize(torch.cat(rows), dim=-1)
        queries = model.encode_queries(batch)

    torch.testing.assert_close(queries, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(queries.norm(dim=-1), torch.ones(3))


def test_tri_encoder_conditions_once_per_distinct_relation(tiny_bert, data):
    _, model, tokenizer = build(tiny_bert, encoding="tri_encoder", head="hypernet", scaler=4)
    batcher = KgcBatcher(data, tokenizer, "tri_encoder", 32)
    seen = []
    model.head.register_forward_hook(lambda module, inputs, output: seen.append(inputs[1].shape))
    model(batcher.train_batch(torch.tensor([[0, 0, 2], [1, 0, 2], [0, 1, 3], [5, 0, 2]]), False))

    assert seen == [torch.Size([2, 32])]


def test_tri_encoder_self_negative_is_head_embedding(tiny_bert, data):
    _, model, tokenizer = build(tiny_bert, encoding="tri_encoder", head="hadamard")
    model.eval()
    batcher = KgcBatcher(data, tokenizer, "tri_encoder", 32)
    batch = batcher.train_batch(data.train, self_negative=True)
    with torch.no_grad():
        output = model(batch)
        expected = model.encode_entities(batch.head_tokens)
    torch.testing.assert_close(output.heads, expected)


def test_tri_encoder_dual_adds_condition_encoder(tiny_bert):
    _, model, _ = build(tiny_bert, encoding="tri_encoder", head="hadamard", dual=True)
    assert isinstance(model, KgcTriEncoder)
    assert isinstance(model.condition_encoder, SentenceEncoder)
    assert model.condition_encoder is not model.encoder


def test_build_rejects_cross_encoder_and_none_head(tiny_bert):
    with pytest.raises(ValueError, match="--encoding must be one of"):
        build(tiny_bert, encoding="cross_encoder")
    with pytest.raises(ValueError, match="--head must be one of"):
        build(tiny_bert, encoding="tri_encoder", head="none")
    with pytest.raises(ValueError, match="--init-temperature must be > 0"):
        build(tiny_bert, encoding="bi_encoder", init_temperature=0.0)


@pytest.mark.parametrize("encoding", ["bi_encoder", "tri_encoder"])
def test_model_folder_round_trip(tiny_bert, data, tmp_path, encoding):
    from hypercl.checkpoint import load_model

    config, model, tokenizer = build(tiny_bert, encoding=encoding, head="hypernet", scaler=4)
    with torch.no_grad():
        model.log_inv_temperature.fill_(1.5)
        for parameter in model.tail_encoder.parameters() if encoding == "bi_encoder" else []:
            parameter.add_(0.01)
    save_model(model, tokenizer, config, tmp_path / "saved")
    loaded, _, _ = load_model(tmp_path / "saved")

    model.eval()
    batcher = KgcBatcher(data, tokenizer, encoding, 32)
    batch = batcher.train_batch(data.train, self_negative=True)
    with torch.no_grad():
        torch.testing.assert_close(loaded(batch).queries, model(batch).queries)
        torch.testing.assert_close(loaded(batch).tails, model(batch).tails)
    assert loaded.log_inv_temperature.item() == pytest.approx(1.5)
