"""Tests of filtered link-prediction evaluation with a model whose scores are set by hand.

The stub tokenizer maps each entity text to one token (entity index + 1), and the stub model
embeds entity i as the i-th unit vector, so a query's embedding is its score over entities.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hypercl.data.kgc import EntityTexts, build_link_graph, known_triples, load_kgc_data
from hypercl.data.kgc_batching import KgcBatch, KgcBatcher, TokenBatch
from hypercl.evaluation.kgc import embed_entities, evaluate_kgc, predict_tails
from tests.data.test_kgc import write_lines

ENTITY_IDS = ["10", "11", "12", "13", "14", "15"]
# Training graph 0-1, 0-2, 3-1; every entity within 5 hops of 0 or 3 is one of 0, 1, 2, 3.
TRAIN = [("10", "_r", "11"), ("10", "_r", "12"), ("13", "_r", "11")]
VALID = [("10", "_r", "13")]
TEST = [("13", "_r", "14")]

# Scores of the two queries of the valid triple, by (head, relation index); 1 is inverse _r.
QUERY_SCORES = {
    (0, 0): [0.5, 0.9, 0.8, 0.7, 0.72, 0.7],
    (3, 1): [0.2, 0.3, 0.1, 0.9, 0.2, 0.22],
}


class EntityLookupTokenizer:
    """Tokenise entity i's text to ``10 - i`` copies of ``i + 1``, any other text to ``[99]``.

    Later entities get shorter sequences, so length-sorted batching reverses their order.
    """

    pad_token_id = 0

    def __init__(self, texts: list[str]):
        self.ids = {text: index + 1 for index, text in enumerate(texts)}

    def __call__(self, first, second=None, truncation=True, max_length=512, padding=False):
        ids = [self.ids.get(text, 99) for text in first]
        return {"input_ids": [[i] * (11 - i) if i != 99 else [i] for i in ids]}


class ScoreTableModel(nn.Module):
    """Entity i embeds as unit vector i; a query embeds as its row of ``QUERY_SCORES``."""

    def __init__(self, num_entities: int):
        super().__init__()
        self.num_entities = num_entities
        self.weight = nn.Parameter(torch.zeros(1))

    def encode_entities(self, tokens: TokenBatch) -> torch.Tensor:
        return nn.functional.one_hot(tokens.input_ids[:, 0] - 1, self.num_entities).float()

    def encode_queries(self, batch: KgcBatch) -> torch.Tensor:
        heads = (batch.head_tokens.input_ids[:, 0] - 1).tolist()
        rows = [
            QUERY_SCORES.get((head, relation), [0.0] * self.num_entities)
            for head, relation in zip(heads, batch.relations.tolist(), strict=True)
        ]
        return torch.tensor(rows)


@pytest.fixture
def graph(tmp_path):
    folder = tmp_path / "graph"
    folder.mkdir()
    write_lines(
        folder / "entity2text.txt", [(e, f"e{i}, thing {i}") for i, e in enumerate(ENTITY_IDS)]
    )
    write_lines(folder / "train.txt", TRAIN)
    write_lines(folder / "valid.txt", VALID)
    write_lines(folder / "test.txt", TEST)
    data = load_kgc_data(folder)
    tokenizer = EntityLookupTokenizer(EntityTexts(data).base)
    batcher = KgcBatcher(data, tokenizer, "tri_encoder", 16)
    return data, batcher, ScoreTableModel(data.num_entities)


def test_evaluate_kgc_filtered_ranks_by_hand(graph):
    data, batcher, model = graph
    metrics = evaluate_kgc(model, batcher, data.valid, known_triples(data), 1, "cpu")

    # Forward (e0, r, ?) gold e3: e1, e2 are filtered, e4 (0.72) is higher, e5 ties -> rank 2.
    # Backward (e3, inverse r, ?) gold e0: e1, e3, e5 are higher, e4 ties -> rank 4.
    assert metrics["val_forward_mrr"] == pytest.approx(1 / 2)
    assert metrics["val_backward_mrr"] == pytest.approx(1 / 4)
    assert metrics["val_mrr"] == pytest.approx(3 / 8)
    assert metrics["val_hits1"] == pytest.approx(0.0)
    assert metrics["val_hits3"] == pytest.approx(0.5)
    assert metrics["val_hits10"] == pytest.approx(1.0)
    assert metrics["val_forward_hits3"] == pytest.approx(1.0)
    assert metrics["val_backward_hits3"] == pytest.approx(0.0)
    assert metrics["val_triples"] == 1.0
    assert not any(name.endswith("_rerank") for name in metrics)


def test_evaluate_kgc_without_filter_counts_true_answers(graph):
    data, batcher, model = graph
    no_filter = known_triples(data, ("valid",))  # only the gold tails themselves
    metrics = evaluate_kgc(model, batcher, data.valid, no_filter, 1, "cpu")
    # Forward: e1, e2 and e4 are now higher -> rank 4.
    assert metrics["val_forward_mrr"] == pytest.approx(1 / 4)


def test_evaluate_kgc_rerank_by_link_graph(graph):
    data, batcher, model = graph
    link_graph = build_link_graph(data.train, data.num_entities)
    metrics = evaluate_kgc(
        model, batcher, data.valid, known_triples(data), 1, "cpu", link_graph=link_graph
    )

    # +0.05 on e0..e3: forward gold e3 (0.75) passes e4 (0.72) -> rank 1; backward gold e0
    # (0.25) passes e5 (0.22) -> rank 3.
    assert metrics["val_forward_mrr_rerank"] == pytest.approx(1.0)
    assert metrics["val_backward_mrr_rerank"] == pytest.approx(1 / 3)
    assert metrics["val_mrr_rerank"] == pytest.approx(2 / 3)
    assert metrics["val_hits1_rerank"] == pytest.approx(0.5)
    assert metrics["val_mrr"] == pytest.approx(3 / 8)


def test_evaluate_kgc_subset_and_prefix(graph):
    data, batcher, model = graph
    triples = torch.cat([data.valid, data.test])
    metrics = evaluate_kgc(
        model, batcher, triples, known_triples(data), 1, "cpu", max_triples=1, prefix="test"
    )
    assert metrics["test_triples"] == 1.0
    assert set(metrics) >= {"test_mrr", "test_forward_hits10", "test_backward_hits1"}


def test_evaluate_kgc_restores_training_mode(graph):
    data, batcher, model = graph
    model.train()
    evaluate_kgc(model, batcher, data.valid, known_triples(data), 1, "cpu", batch_size=1)
    assert model.training


def test_embed_entities_in_batches(graph):
    data, batcher, model = graph
    embeddings = embed_entities(model, batcher, "cpu", batch_size=4)
    torch.testing.assert_close(embeddings, torch.eye(data.num_entities))


def test_predict_tails_by_entity_and_by_text(graph):
    data, batcher, model = graph
    indices, scores = predict_tails(model, batcher, [0], k=2, head_entities=[0])
    assert indices.tolist() == [[1, 2]]
    torch.testing.assert_close(scores, torch.tensor([[0.9, 0.8]]))

    by_text, _ = predict_tails(model, batcher, [1], k=1, head_texts=["e3: thing 3"])
    assert by_text.tolist() == [[3]]


def test_predict_tails_rejects_bad_arguments(graph):
    data, batcher, model = graph
    with pytest.raises(ValueError, match="exactly one of head_entities and head_texts"):
        predict_tails(model, batcher, [0], head_entities=[0], head_texts=["e0"])
    with pytest.raises(ValueError, match="got 2 heads but 1 relations"):
        predict_tails(model, batcher, [0], head_entities=[0, 1])
    with pytest.raises(ValueError, match="k must be >= 1"):
        predict_tails(model, batcher, [0], k=0, head_entities=[0])
