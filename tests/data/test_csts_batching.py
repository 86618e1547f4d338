"""Tests of C-STS tokenisation, de-duplication, padding and batch order on synthetic rows."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from transformers import AutoTokenizer

from hypercl.data.csts import CstsExample, Quadruplet
from hypercl.data.csts_batching import (
    CstsCollator,
    CstsTokenizedSplit,
    iter_eval_batches,
    iter_train_batches,
    num_train_batches,
)
from tests.tiny_model import write_tiny_bert

SENTENCE_A = "the man plays guitar in the park"
SENTENCE_B = "a woman runs"
CONDITION_HIGH = "the action"
CONDITION_LOW = "the number of people in the city"


class CountingTokenizer:
    """Forwards to a real tokenizer and counts how often it is called to tokenise."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.tokenizer(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tokenizer, name)


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    return AutoTokenizer.from_pretrained(write_tiny_bert(tmp_path_factory.mktemp("tiny-bert")))


def one_quadruplet() -> tuple[list[CstsExample], list[Quadruplet]]:
    examples = [
        CstsExample(SENTENCE_A, SENTENCE_B, CONDITION_LOW, 2, line=2),
        CstsExample(SENTENCE_A, SENTENCE_B, CONDITION_HIGH, 5, line=3),
    ]
    return examples, [Quadruplet(high=1, low=0, tied=False)]


def synthetic_examples(pairs: int) -> tuple[list[CstsExample], list[Quadruplet]]:
    """Write ``pairs`` sentence pairs, two rows each, with texts and labels varying by index."""
    examples, quadruplets = [], []
    for i in range(pairs):
        s1 = "the dog " + "runs " * (i % 3)
        s2 = f"a cat {i} eats"
        examples.append(CstsExample(s1, s2, f"the color {i % 2}", 1 + i % 5, line=2 * i + 2))
        examples.append(CstsExample(s1, s2, "the animal", 1 + (i + 2) % 5, line=2 * i + 3))
        first, second = 2 * i, 2 * i + 1
        if examples[first].label >= examples[second].label:
            high, low = first, second
        else:
            high, low = second, first
        tied = examples[first].label == examples[second].label
        quadruplets.append(Quadruplet(high=high, low=low, tied=tied))
    return examples, quadruplets


def token_length(tokenizer: Any, text: str, pair: str | None = None) -> int:
    return len(tokenizer(text, pair)["input_ids"])


def test_tri_encoder_quadruplet_encodes_four_sequences(tokenizer):
    examples, quadruplets = one_quadruplet()
    split = CstsTokenizedSplit(examples, tokenizer, "tri_encoder", max_seq_length=64)

    batch = CstsCollator(split).collate_quadruplets(quadruplets)

    assert batch.num_sequences == 4
    assert batch.sentences["input_ids"].shape[0] == 2
    assert batch.conditions["input_ids"].shape[0] == 2
    assert batch.row_index.tolist() == [1, 0]
    assert batch.sentence1_index.tolist() == [0, 0]
    assert batch.sentence2_index.tolist() == [1, 1]
    assert batch.condition_index.tolist() == [0, 1]
    assert batch.labels.tolist() == [1.0, 0.25]
    assert batch.tied.tolist() == [False]


def test_tri_encoder_pads_sentences_and_conditions_separately(tokenizer):
    examples, quadruplets = one_quadruplet()
    split = CstsTokenizedSplit(examples, tokenizer, "tri_encoder", max_seq_length=64)

    batch = CstsCollator(split).collate_quadruplets(quadruplets)

    sentence_lengths = [token_length(tokenizer, SENTENCE_A), token_length(tokenizer, SENTENCE_B)]
    condition_lengths = [
        token_length(tokenizer, CONDITION_HIGH),
        token_length(tokenizer, CONDITION_LOW),
    ]
    assert batch.sentences["input_ids"].shape[1] == max(sentence_lengths)
    assert batch.conditions["input_ids"].shape[1] == max(condition_lengths)
    assert batch.sentences["attention_mask"].sum(dim=1).tolist() == sentence_lengths
    assert batch.conditions["attention_mask"].sum(dim=1).tolist() == condition_lengths
    assert batch.num_tokens == sum(sentence_lengths) + sum(condition_lengths)
    assert batch.num_padded_tokens == 2 * max(sentence_lengths) + 2 * max(condition_lengths)


def test_padding_uses_pad_token_and_zero_mask(tokenizer):
    examples, quadruplets = one_quadruplet()
    split = CstsTokenizedSplit(examples, tokenizer, "tri_encoder", max_seq_length=64)

    batch = CstsCollator(split).collate_quadruplets(quadruplets)

    short_length = token_length(tokenizer, SENTENCE_B)
    padding = batch.sentences["input_ids"][1, short_length:]
    assert padding.numel() > 0
    assert (padding == tokenizer.pad_token_id).all()
    assert (batch.sentences["attention_mask"][1, short_length:] == 0).all()
    expected_ids = tokenizer(SENTENCE_B)["input_ids"]
    assert batch.sentences["input_ids"][1, :short_length].tolist() == expected_ids


def test_bi_encoder_quadruplet_encodes_four_pairs(tokenizer):
    examples, quadruplets = one_quadruplet()
    split = CstsTokenizedSplit(examples, tokenizer, "bi_encoder", max_seq_length=64)

    batch = CstsCollator(split).collate_quadruplets(quadruplets)

    assert batch.num_sequences == 4
    assert batch.sentences is None
    assert batch.pair1_index.tolist() == [0, 1]
    assert batch.pair2_index.tolist() == [2, 3]
    first_pair = tokenizer(SENTENCE_A, CONDITION_HIGH)
    length = len(first_pair["input_ids"])
    assert batch.pairs["input_ids"][0, :length].tolist() == first_pair["input_ids"]
    assert batch.pairs["token_type_ids"][0, :length].tolist() == first_pair["token_type_ids"]


def test_cross_encoder_quadruplet_encodes_two_joint_sequences(tokenizer):
    examples, quadruplets = one_quadruplet()
    split = CstsTokenizedSplit(examples, tokenizer, "cross_encoder", max_seq_length=64)

    batch = CstsCollator(split).collate_quadruplets(quadruplets)

    assert batch.num_sequences == 2
    expected = tokenizer(f"{SENTENCE_A} [SEP] {SENTENCE_B}", CONDITION_HIGH)["input_ids"]
    assert batch.joint["input_ids"][0, : len(expected)].tolist() == expected
    assert expected.count(tokenizer.sep_token_id) == 3


def test_cross_encoder_truncation_keeps_condition(tokenizer):
    long_sentence = " ".join(["guitar"] * 50)
    examples = [CstsExample(long_sentence, long_sentence, CONDITION_HIGH, 3, line=2)]
    split = CstsTokenizedSplit(examples, tokenizer, "cross_encoder", max_seq_length=24)

    batch = CstsCollator(split).collate_rows([0])

    condition_ids = tokenizer(CONDITION_HIGH, add_special_tokens=False)["input_ids"]
    ids = batch.joint["input_ids"][0].tolist()
    assert len(ids) == 24
    assert ids[-len(condition_ids) - 1 : -1] == condition_ids


def test_sequences_truncated_to_max_seq_length(tokenizer):
    long_sentence = " ".join(["guitar"] * 50)
    examples = [CstsExample(long_sentence, SENTENCE_B, CONDITION_LOW, 3, line=2)]
    split = CstsTokenizedSplit(examples, tokenizer, "tri_encoder", max_seq_length=16)

    batch = CstsCollator(split).collate_rows([0])

    assert batch.sentences["input_ids"].shape[1] == 16
    assert batch.sentences["input_ids"][0, -1] == tokenizer.sep_token_id


def test_eval_batches_keep_every_row(tokenizer):
    examples, _ = synthetic_examples(4)
    examples = examples[:7]
    split = CstsTokenizedSplit(examples, tokenizer, "tri_encoder", max_seq_length=32)

    batches = list(iter_eval_batches(split, batch_size=3))

    assert [batch.num_rows for batch in batches] == [3, 3, 1]
    assert torch.cat([batch.row_index for batch in batches]).tolist() == list(range(7))
    assert all(batch.tied is None for batch in batches)


def test_eval_batches_dedupe_rows_sharing_a_sentence_pair(tokenizer):
    examples, _ = synthetic_examples(2)
    split = CstsTokenizedSplit(examples, tokenizer, "tri_encoder", max_seq_length=32)

    (batch,) = list(iter_eval_batches(split, batch_size=4))

    assert batch.sentences["input_ids"].shape[0] == 4  # 2 pairs x 2 sentences
    assert (
        batch.conditions["input_ids"].shape[0] == 3
    )  # "the color 0", "the animal", "the color 1"
    assert batch.condition_index.tolist() == [0, 1, 2, 1]


def test_hidden_labels_become_nan(tokenizer):
    examples = [
        CstsExample(SENTENCE_A, SENTENCE_B, CONDITION_LOW, -1, line=2),
        CstsExample(SENTENCE_A, SENTENCE_B, CONDITION_HIGH, 3, line=3),
    ]
    split = CstsTokenizedSplit(examples, tokenizer, "bi_encoder", max_seq_length=32)

    labels = split.labels.tolist()

    assert math.isnan(labels[0])
    assert labels[1] == 0.5


@pytest.mark.parametrize(
    ("encoding", "expected_calls"), [("tri_encoder", 2), ("bi_encoder", 1), ("cross_encoder", 1)]
)
def test_split_tokenizes_each_text_once(tokenizer, encoding, expected_calls):
    counting = CountingTokenizer(tokenizer)
    examples, quadruplets = synthetic_examples(5)

    split = CstsTokenizedSplit(examples, counting, encoding, max_seq_length=32)
    calls_after_tokenising = counting.calls
    for epoch in range(2):
        generator = torch.Generator().manual_seed(epoch)
        list(iter_train_batches(split, quadruplets, 4, generator))
        list(iter_eval_batches(split, 3))

    assert calls_after_tokenising == expected_calls
    assert counting.calls == expected_calls


def test_split_counts_distinct_texts(tokenizer):
    examples, _ = synthetic_examples(5)

    split = CstsTokenizedSplit(examples, tokenizer, "tri_encoder", max_seq_length=32)

    assert split.sequence_counts() == {"sentences": 8, "conditions": 3}


def test_train_batches_cover_each_quadruplet_once(tokenizer):
    examples, quadruplets = synthetic_examples(5)
    split = CstsTokenizedSplit(examples, tokenizer, "tri_encoder", max_seq_length=32)

    batches = list(iter_train_batches(split, quadruplets, 4, torch.Generator().manual_seed(1)))

    assert [batch.num_rows for batch in batches] == [4, 4, 2]
    assert len(batches) == num_train_batches(len(quadruplets), 4)
    rows = torch.cat([batch.row_index for batch in batches]).tolist()
    pairs = sorted(zip(rows[0::2], rows[1::2], strict=True))
    assert pairs == sorted((q.high, q.low) for q in quadruplets)
    tied = torch.cat([batch.tied for batch in batches]).tolist()
    by_high = {q.high: q.tied for q in quadruplets}
    assert tied == [by_high[high] for high in rows[0::2]]


def test_train_batches_order_follows_seed(tokenizer):
    examples, quadruplets = synthetic_examples(12)
    split = CstsTokenizedSplit(examples, tokenizer, "bi_encoder", max_seq_length=32)

    def row_order(seed: int) -> list[int]:
        generator = torch.Generator().manual_seed(seed)
        batches = iter_train_batches(split, quadruplets, 6, generator)
        return torch.cat([batch.row_index for batch in batches]).tolist()

    assert row_order(3) == row_order(3)
    assert row_order(3) != row_order(4)


@pytest.mark.parametrize("batch_size", [0, 3, 7, 2.0])
def test_train_batches_reject_invalid_batch_size(tokenizer, batch_size):
    examples, quadruplets = synthetic_examples(2)
    split = CstsTokenizedSplit(examples, tokenizer, "tri_encoder", max_seq_length=32)

    with pytest.raises(
        ValueError, match=r"invalid training batch_size .*use an even integer >= 2"
    ):
        list(iter_train_batches(split, quadruplets, batch_size, torch.Generator()))


def test_eval_batches_reject_invalid_batch_size(tokenizer):
    examples, _ = synthetic_examples(2)
    split = CstsTokenizedSplit(examples, tokenizer, "tri_encoder", max_seq_length=32)

    with pytest.raises(ValueError, match=r"invalid evaluation batch_size 0"):
        list(iter_eval_batches(split, 0))


def test_split_rejects_unknown_encoding(tokenizer):
    examples, _ = one_quadruplet()

    with pytest.raises(ValueError, match=r"invalid encoding 'dual_encoder'; choose one of"):
        CstsTokenizedSplit(examples, tokenizer, "dual_encoder", max_seq_length=32)


def test_split_rejects_max_seq_length_above_model_limit(tokenizer):
    examples, _ = one_quadruplet()

    with pytest.raises(ValueError, match=r"max_seq_length 1024 is larger than the model's limit"):
        CstsTokenizedSplit(examples, tokenizer, "tri_encoder", max_seq_length=1024)


def test_split_rejects_too_short_max_seq_length(tokenizer):
    examples, _ = one_quadruplet()

    with pytest.raises(ValueError, match=r"invalid max_seq_length 3: use an integer >= 5"):
        CstsTokenizedSplit(examples, tokenizer, "tri_encoder", max_seq_length=3)


def test_batch_to_moves_every_tensor(tokenizer):
    examples, quadruplets = one_quadruplet()
    split = CstsTokenizedSplit(examples, tokenizer, "tri_encoder", max_seq_length=32)
    batch = CstsCollator(split).collate_quadruplets(quadruplets)

    moved = batch.to("meta")

    assert moved.labels.device.type == "meta"
    assert moved.tied.device.type == "meta"
    assert moved.condition_index.device.type == "meta"
    assert all(t.device.type == "meta" for t in moved.sentences.values())
    assert batch.labels.device.type == "cpu"
    assert moved.pairs is None
