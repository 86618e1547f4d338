"""Tests of the knowledge-graph data: reading, texts, inverse triples, filter sets and batches."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from hypercl.data.kgc import (
    EntityTexts,
    add_inverse_triples,
    build_link_graph,
    default_kgc_dir,
    entities_within_hops,
    entity_text,
    kgc_stats,
    known_triples,
    load_kgc_data,
    name_from_lemma,
    relation_text,
    sample_triples,
)
from hypercl.data.kgc_batching import KgcBatcher, iter_train_batches, pad_encodings

# Six entities: ids, names and descriptions of a made-up graph (entity2text.txt layout).
ENTITIES = [
    ("100", "dog", "a domestic animal that runs in the park"),
    ("101", "cat", "a small animal"),
    ("102", "animal", "animal a living thing"),
    ("103", "tail", "part of a dog or a cat"),
    ("104", "red", ""),
    ("105", "park", "a place in the city with a ball"),
]
TRAIN = [
    ("100", "_hypernym", "102"),
    ("101", "_hypernym", "102"),
    ("100", "_has_part", "103"),
    ("101", "_has_part", "103"),
]
VALID = [("105", "_hypernym", "102")]
TEST = [("103", "_has_part", "100")]


def write_lines(path: Path, rows: list[tuple[str, ...]]) -> None:
    path.write_text("".join("\t".join(row) + "\n" for row in rows))


def write_synthetic_graph(
    folder: Path,
    layout: str = "entity2text",
    train: list[tuple[str, str, str]] = TRAIN,
    valid: list[tuple[str, str, str]] = VALID,
    test: list[tuple[str, str, str]] = TEST,
) -> Path:
    """Write the made-up graph into ``folder`` in the entity file ``layout`` and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    if layout == "entity2text":
        rows = [(entity, f"{name}, {text}" if text else name) for entity, name, text in ENTITIES]
        write_lines(folder / "entity2text.txt", rows)
    else:
        rows = [(entity, f"__{name}_NN_1", text) for entity, name, text in ENTITIES]
        write_lines(folder / "wordnet-mlj12-definitions.txt", rows)
    write_lines(folder / "train.txt", train)
    write_lines(folder / "valid.txt", valid)
    write_lines(folder / "test.txt", test)
    return folder


class CharacterTokenizer:
    """A tokenizer with the call signature of a Hugging Face one: one id per character.

    ``[CLS]`` is 1 and ``[SEP]`` 2; a pair gets token type 0 for the first text with its
    ``[CLS]`` and ``[SEP]``, and 1 for the rest.
    """

    pad_token_id = 0

    def __call__(self, first, second=None, truncation=True, max_length=512, padding=False):
        input_ids, token_type_ids = [], []
        for index, text in enumerate(first):
            ids = [1] + [ord(c) for c in text] + [2]
            types = [0] * len(ids)
            if second is not None:
                extra = [ord(c) for c in second[index]] + [2]
                ids, types = ids + extra, types + [1] * len(extra)
            input_ids.append(ids[:max_length])
            token_type_ids.append(types[:max_length])
        return {"input_ids": input_ids, "token_type_ids": token_type_ids}


def decode(ids: torch.Tensor) -> str:
    return "".join(chr(i) for i in ids.tolist() if i > 2)


# --- texts -----------------------------------------------------------------------------------


def test_relation_text_replaces_underscores():
    assert relation_text("_member_meronym") == "member meronym"
    assert relation_text("_hypernym") == "hypernym"


def test_name_from_lemma_drops_pos_and_sense():
    assert name_from_lemma("__hot_dog_NN_2") == "hot dog"
    assert name_from_lemma("__toy_NN_1") == "toy"
    assert name_from_lemma("__NN_1") is None


def test_entity_text_removes_leading_name():
    assert entity_text("animal", "animal a living thing") == "animal: a living thing"
    assert entity_text("dog", "a domestic animal") == "dog: a domestic animal"
    assert entity_text("red", "") == "red"


@pytest.mark.parametrize("layout", ["entity2text", "mlj12"])
def test_load_kgc_data_reads_both_layouts(tmp_path, layout):
    data = load_kgc_data(write_synthetic_graph(tmp_path, layout))
    texts = EntityTexts(data)

    assert data.entity_ids == ["100", "101", "102", "103", "104", "105"]
    assert data.entity_names[:2] == ["dog", "cat"]
    assert texts.text(0) == "dog: a domestic animal that runs in the park"
    assert texts.text(2) == "animal: a living thing"
    assert texts.text(4) == "red"
    assert data.relations == ["_hypernym", "_has_part"]
    assert data.relation_texts() == [
        "hypernym",
        "has part",
        "inverse hypernym",
        "inverse has part",
    ]
    assert data.train.tolist() == [[0, 0, 2], [1, 0, 2], [0, 1, 3], [1, 1, 3]]
    assert data.valid.tolist() == [[5, 0, 2]]
    assert data.test.tolist() == [[3, 1, 0]]


def test_entity2text_name_is_text_before_first_comma(tmp_path):
    folder = write_synthetic_graph(tmp_path)
    write_lines(folder / "entity2text.txt", [("100", "dog, hound, a hunting dog"), *[
        (entity, name) for entity, name, _ in ENTITIES[1:]
    ]])  # fmt: skip
    data = load_kgc_data(folder)
    assert data.entity_names[0] == "dog"
    assert data.entity_descriptions[0] == "hound, a hunting dog"


def test_kgc_stats_counts_synthetic_graph(tmp_path):
    stats = kgc_stats(write_synthetic_graph(tmp_path))
    assert stats["entities"] == 6
    assert stats["relations"] == 2
    assert stats["train_triples"] == 4
    assert stats["valid_triples"] == 1
    assert stats["test_triples"] == 1
    assert stats["entity_file"] == "entity2text.txt"


def test_relation_index_accepts_names_and_texts(tmp_path):
    data = load_kgc_data(write_synthetic_graph(tmp_path))
    assert data.relation_index("_has_part") == 1
    assert data.relation_index("inverse hypernym") == 2
    with pytest.raises(ValueError, match="unknown relation '_part_of'"):
        data.relation_index("_part_of")


# --- bad input -------------------------------------------------------------------------------


def test_malformed_triple_line_names_file_and_line(tmp_path):
    folder = write_synthetic_graph(tmp_path)
    (folder / "train.txt").write_text("100\t_hypernym\t102\n101 _hypernym 102\n")
    with pytest.raises(
        ValueError, match=r"train\.txt:2: expected 3 tab-separated fields, found 1"
    ):
        load_kgc_data(folder)


def test_unknown_entity_names_file_and_line(tmp_path):
    folder = write_synthetic_graph(
        tmp_path, test=[("103", "_has_part", "100"), ("999", "_has_part", "100")]
    )
    with pytest.raises(ValueError, match=r"test\.txt:2: entity '999' is not in the entity file"):
        load_kgc_data(folder)


def test_relation_missing_from_train_is_rejected(tmp_path):
    folder = write_synthetic_graph(tmp_path, valid=[("105", "_part_of", "102")])
    with pytest.raises(
        ValueError, match=r"valid\.txt:1: relation '_part_of' does not occur in train"
    ):
        load_kgc_data(folder)


def test_malformed_mlj12_line_is_rejected(tmp_path):
    folder = write_synthetic_graph(tmp_path, layout="mlj12")
    path = folder / "wordnet-mlj12-definitions.txt"
    path.write_text(path.read_text() + "106\t__ball_NN_1\n")
    with pytest.raises(ValueError, match=r"definitions\.txt:7: expected 3 tab-separated fields"):
        load_kgc_data(folder)


def test_missing_entity_file_is_rejected(tmp_path):
    folder = write_synthetic_graph(tmp_path)
    (folder / "entity2text.txt").unlink()
    with pytest.raises(ValueError, match="no entity file"):
        load_kgc_data(folder)


def test_duplicate_entity_is_rejected(tmp_path):
    folder = write_synthetic_graph(tmp_path)
    path = folder / "entity2text.txt"
    path.write_text(path.read_text() + "100\tdog, again\n")
    with pytest.raises(ValueError, match=r"entity2text\.txt:7: entity '100' is listed twice"):
        load_kgc_data(folder)


def test_missing_split_is_rejected(tmp_path):
    folder = write_synthetic_graph(tmp_path)
    (folder / "valid.txt").unlink()
    with pytest.raises(ValueError, match=r"lacks \['valid.txt'\]"):
        load_kgc_data(folder)


# --- inverse triples, filter sets, graph ----------------------------------------------------


def test_add_inverse_triples_swaps_and_offsets():
    triples = torch.tensor([[0, 0, 2], [3, 1, 0]])
    both = add_inverse_triples(triples, num_relations=2)
    assert both.tolist() == [[0, 0, 2], [3, 1, 0], [2, 2, 0], [0, 3, 3]]


def test_known_triples_cover_splits_and_inverses(tmp_path):
    data = load_kgc_data(write_synthetic_graph(tmp_path))
    every = known_triples(data)
    train_only = known_triples(data, ("train",))

    assert sorted(every.tails_of(2, 2)) == [0, 1, 5]  # inverse hypernym of "animal"
    assert sorted(train_only.tails_of(2, 2)) == [0, 1]
    assert every.tails_of(3, 1) == [0]  # the test triple
    assert train_only.tails_of(3, 1) == []
    contained = every.contains(
        torch.tensor([0, 0, 5]), torch.tensor([0, 0, 0]), torch.tensor([2, 3, 2])
    )
    assert contained.tolist() == [True, False, True]


def test_link_graph_is_undirected_and_hops_count_edges(tmp_path):
    data = load_kgc_data(write_synthetic_graph(tmp_path))
    graph = build_link_graph(data.train, data.num_entities)

    assert graph[0] == [2, 3]
    assert graph[2] == [0, 1]
    assert graph[5] == []
    assert entities_within_hops(graph, 0, 0) == [0]
    assert entities_within_hops(graph, 0, 1) == [0, 2, 3]
    assert entities_within_hops(graph, 0, 2) == [0, 1, 2, 3]
    assert entities_within_hops(graph, 5, 5) == [5]


def test_neighbor_names_leave_out_excluded_entity(tmp_path):
    data = load_kgc_data(write_synthetic_graph(tmp_path))
    texts = EntityTexts(data, build_link_graph(data.train, data.num_entities))

    assert texts.text(1) == "cat: a small animal animal tail"
    assert texts.text(1, exclude=2) == "cat: a small animal tail"
    assert texts.cache_key(1, exclude=2) == (1, 2)
    assert texts.cache_key(1, exclude=5) == (1, None)


def test_neighbor_names_only_for_short_descriptions(tmp_path):
    train = [("100", "_hypernym", entity) for entity, _, _ in ENTITIES[1:]]
    data = load_kgc_data(write_synthetic_graph(tmp_path, train=train, valid=[], test=[]))
    texts = EntityTexts(data, build_link_graph(data.train, data.num_entities))
    texts.descriptions[0] = "short"
    assert texts.appended_neighbors(0) == [1, 2, 3, 4, 5]

    long_description = " ".join(["word"] * 20)
    texts.descriptions[0] = long_description
    assert texts.appended_neighbors(0) == []


def test_neighbor_names_limit_is_ten(tmp_path):
    entities = [(str(200 + i), f"e{i}", "x") for i in range(13)]
    folder = tmp_path / "star"
    folder.mkdir()
    write_lines(folder / "entity2text.txt", [(e, f"{name}, {text}") for e, name, text in entities])
    write_lines(folder / "train.txt", [("200", "_r", e) for e, _, _ in entities[1:]])
    write_lines(folder / "valid.txt", [])
    write_lines(folder / "test.txt", [])
    data = load_kgc_data(folder)
    texts = EntityTexts(data, build_link_graph(data.train, data.num_entities))

    assert texts.appended_neighbors(0) == list(range(1, 11))
    assert texts.appended_neighbors(0, exclude=3) == [1, 2, 4, 5, 6, 7, 8, 9, 10, 11]


def test_sample_triples_is_seeded_and_ordered():
    triples = torch.arange(30).reshape(10, 3)
    first = sample_triples(triples, 4, seed=7)
    again = sample_triples(triples, 4, seed=7)
    assert torch.equal(first, again)
    assert first[:, 0].tolist() == sorted(first[:, 0].tolist())
    assert first.shape == (4, 3)
    assert sample_triples(triples, None, seed=7) is triples
    with pytest.raises(ValueError, match="max_triples must be >= 1"):
        sample_triples(triples, 0, seed=7)


# --- batches ---------------------------------------------------------------------------------


def test_pad_encodings_right_pads_with_mask():
    import numpy as np

    batch = pad_encodings([(np.array([5, 6, 7]), None), (np.array([8]), None)], pad_id=0)
    assert batch.input_ids.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch.attention_mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch.token_type_ids is None


def test_train_batch_masks_known_true_tails(tmp_path):
    data = load_kgc_data(write_synthetic_graph(tmp_path))
    train_known = known_triples(data, ("train",))
    batcher = KgcBatcher(data, CharacterTokenizer(), "bi_encoder", 64, train_known=train_known)
    # (dog, hypernym, animal), (cat, hypernym, animal), (dog, has part, tail), (animal, inverse hypernym, dog)
    triples = torch.tensor([[0, 0, 2], [1, 0, 2], [0, 1, 3], [2, 2, 0]])
    batch = batcher.train_batch(triples, self_negative=True)

    # Rows 0 and 1 share the tail "animal", a true tail of both queries. Row 3's query (animal,
    # inverse hypernym) has the true tails dog and cat, and only dog (its own tail) is in the batch.
    expected = [
        [False, True, False, False],
        [True, False, False, False],
        [False, False, False, False],
        [False, False, False, False],
    ]
    assert batch.true_tail_mask.tolist() == expected
    assert batch.self_negative_mask.tolist() == [False, False, False, False]
    assert decode(batch.tail_tokens.input_ids[2]) == "tail: part of a dog or a cat"
    assert decode(batch.head_tokens.input_ids[0]) == "dog: a domestic animal that runs in the park"


def test_self_negative_mask_marks_self_loops(tmp_path):
    train = TRAIN + [("104", "_hypernym", "104")]
    data = load_kgc_data(write_synthetic_graph(tmp_path, train=train))
    batcher = KgcBatcher(
        data, CharacterTokenizer(), "tri_encoder", 64, train_known=known_triples(data, ("train",))
    )
    batch = batcher.train_batch(torch.tensor([[4, 0, 4], [0, 0, 2]]), self_negative=True)
    assert batch.self_negative_mask.tolist() == [True, False]


def test_bi_encoder_query_is_text_pair(tmp_path):
    data = load_kgc_data(write_synthetic_graph(tmp_path))
    batcher = KgcBatcher(data, CharacterTokenizer(), "bi_encoder", 64)
    batch = batcher.query_batch(torch.tensor([4]), torch.tensor([3]))

    ids = batch.hr_tokens.input_ids[0].tolist()
    types = batch.hr_tokens.token_type_ids[0].tolist()
    first_length = len("red") + 2
    assert decode(batch.hr_tokens.input_ids[0][:first_length]) == "red"
    assert decode(batch.hr_tokens.input_ids[0][first_length:]) == "inverse has part"
    assert types == [0] * first_length + [1] * (len(ids) - first_length)
    assert batch.head_tokens is None
    assert batch.relation_tokens is None


def test_tri_encoder_batch_tokenizes_distinct_relations_once(tmp_path):
    data = load_kgc_data(write_synthetic_graph(tmp_path))
    batcher = KgcBatcher(data, CharacterTokenizer(), "tri_encoder", 64)
    batch = batcher.query_batch(torch.tensor([0, 1, 2, 3]), torch.tensor([1, 0, 1, 3]))

    assert len(batch.relation_tokens) == 3
    assert [decode(row) for row in batch.relation_tokens.input_ids] == [
        "hypernym", "has part", "inverse has part",
    ]  # fmt: skip
    assert batch.relation_index.tolist() == [1, 0, 1, 2]
    assert len(batch.head_tokens) == 4
    assert batch.hr_tokens is None


def test_entity_tokens_truncate_to_max_seq_length(tmp_path):
    data = load_kgc_data(write_synthetic_graph(tmp_path))
    batcher = KgcBatcher(data, CharacterTokenizer(), "tri_encoder", 8)
    tokens = batcher.entity_tokens([0, 4])
    assert tokens.input_ids.shape == (2, 8)
    assert tokens.attention_mask[1].tolist() == [1] * 5 + [0] * 3  # [CLS] r e d [SEP]


def test_neighbor_names_leave_out_gold_in_training(tmp_path):
    data = load_kgc_data(write_synthetic_graph(tmp_path))
    batcher = KgcBatcher(data, CharacterTokenizer(), "tri_encoder", 128, neighbor_names=True)
    batch = batcher.train_batch(torch.tensor([[1, 0, 2]]), self_negative=False)

    assert decode(batch.head_tokens.input_ids[0]) == "cat: a small animal tail"
    assert decode(batch.tail_tokens.input_ids[0]) == "animal: a living thing dog"
    evaluation = batcher.entity_tokens([1])
    assert decode(evaluation.input_ids[0]) == "cat: a small animal animal tail"


def test_iter_train_batches_covers_every_triple_once(tmp_path):
    data = load_kgc_data(write_synthetic_graph(tmp_path))
    batcher = KgcBatcher(data, CharacterTokenizer(), "bi_encoder", 64)
    triples = add_inverse_triples(data.train, data.num_relations)
    generator = torch.Generator().manual_seed(0)
    batches = list(iter_train_batches(batcher, triples, 3, generator, self_negative=False))

    assert [len(batch) for batch in batches] == [3, 3, 2]
    seen = torch.cat([torch.stack([b.heads, b.relations, b.tails], dim=1) for b in batches])
    assert sorted(map(tuple, seen.tolist())) == sorted(map(tuple, triples.tolist()))


def test_batcher_rejects_cross_encoder(tmp_path):
    data = load_kgc_data(write_synthetic_graph(tmp_path))
    with pytest.raises(ValueError, match="--encoding must be one of"):
        KgcBatcher(data, CharacterTokenizer(), "cross_encoder", 64)


# --- real data -------------------------------------------------------------------------------


@pytest.mark.skipif(
    not (default_kgc_dir() / "train.txt").is_file(), reason="WN18RR is not available"
)
def test_kgc_stats_real_wn18rr():
    stats = kgc_stats(default_kgc_dir())
    assert stats["entities"] == 40943
    assert stats["relations"] == 11
    assert stats["train_triples"] == 86835
    assert stats["valid_triples"] == 3034
    assert stats["test_triples"] == 3134
