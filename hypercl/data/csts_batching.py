"""C-STS batches: each distinct text tokenised once per split, de-duplicated and padded per batch.

The three encodings need different sequences:

- ``tri_encoder``: the distinct sentences and the distinct conditions of a batch, padded
  separately, each to its own longest. A quadruplet (s1, s2 under c_high and c_low) costs
  4 sequences instead of the 6 of encoding every row's three texts.
- ``bi_encoder``: the distinct (sentence, condition) text pairs of a batch.
- ``cross_encoder``: one joint sequence "s1 [SEP] s2 [SEP] c" per row.

Training batches hold quadruplets as consecutive rows: row 2i is c_high, row 2i+1 c_low.
Padding is dynamic, to the longest sequence of the batch, never to ``max_seq_length``.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from hypercl.data.csts import HIDDEN_LABEL, CstsExample, Quadruplet, scaled_label
from hypercl.data.token_cache import load_or_tokenize
from hypercl.training.config import ENCODINGS

logger = logging.getLogger(__name__)

CSTS_ENCODINGS = ENCODINGS


@dataclass
class CstsBatch:
    """The encoder inputs, row indices and targets of one C-STS batch.

    Each ``*_index`` tensor maps a row to its sequence in the padded inputs it belongs to.
    Only the fields of the split's encoding are set.
    """

    labels: Tensor  # (n_rows,) float, (y - 1) / 4, NaN for hidden test labels
    row_index: Tensor  # (n_rows,) long, position of each row in its split
    tied: Tensor | None  # (m,) bool for m training quadruplets, None for evaluation
    sentences: dict[str, Tensor] | None = None
    conditions: dict[str, Tensor] | None = None
    sentence1_index: Tensor | None = None
    sentence2_index: Tensor | None = None
    condition_index: Tensor | None = None
    pairs: dict[str, Tensor] | None = None
    pair1_index: Tensor | None = None
    pair2_index: Tensor | None = None
    joint: dict[str, Tensor] | None = None

    def to(self, device: torch.device | str) -> CstsBatch:
        """Return a copy with every tensor on ``device``."""
        moved: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, Tensor):
                value = value.to(device, non_blocking=True)
            elif isinstance(value, dict):
                value = {
                    key: tensor.to(device, non_blocking=True) for key, tensor in value.items()
                }
            moved[field.name] = value
        return CstsBatch(**moved)

    def _inputs(self) -> list[dict[str, Tensor]]:
        padded = (self.sentences, self.conditions, self.pairs, self.joint)
        return [inputs for inputs in padded if inputs is not None]

    @property
    def num_rows(self) -> int:
        return int(self.labels.shape[0])

    @property
    def num_sequences(self) -> int:
        """Number of sequences that the encoder runs on for this batch."""
        return sum(int(inputs["input_ids"].shape[0]) for inputs in self._inputs())

    @property
    def num_tokens(self) -> int:
        """Number of real (non-padding) token slots in the encoder inputs."""
        return sum(int(inputs["attention_mask"].sum()) for inputs in self._inputs())

    @property
    def num_padded_tokens(self) -> int:
        """Number of token slots after padding, real and padding tokens together."""
        return sum(int(inputs["input_ids"].numel()) for inputs in self._inputs())


@dataclass
class TokenizedTexts:
    """Distinct texts of a split, tokenised without padding."""

    input_ids: list[list[int]]
    token_type_ids: list[list[int]] | None

    def __len__(self) -> int:
        return len(self.input_ids)


def _index_distinct(keys: Sequence[Any]) -> tuple[list[Any], list[int]]:
    """Return the distinct keys in first-seen order and, for each key, its position among them."""
    positions: dict[Any, int] = {}
    index = [positions.setdefault(key, len(positions)) for key in keys]
    return list(positions), index


def _tokenize(
    tokenizer: Any,
    texts: list[str],
    max_length: int,
    text_pairs: list[str] | None = None,
) -> TokenizedTexts:
    """Tokenise all ``texts`` (with ``text_pairs``, if given) in one tokenizer call, truncated."""
    if not texts:
        return TokenizedTexts(input_ids=[], token_type_ids=None)

    def tokenize() -> tuple[list[list[int]], list[list[int]] | None]:
        encoded = tokenizer(
            texts, text_pairs, truncation=True, max_length=max_length, padding=False
        )
        token_type_ids = encoded.get("token_type_ids")
        if token_type_ids is not None:
            token_type_ids = [list(types) for types in token_type_ids]
        return [list(ids) for ids in encoded["input_ids"]], token_type_ids

    # Trials on one node share the result through the on-disk token cache.
    input_ids, token_type_ids = load_or_tokenize(
        tokenizer, texts, max_length, text_pairs, tokenize
    )
    return TokenizedTexts(input_ids=input_ids, token_type_ids=token_type_ids)


def pad_sequences(
    texts: TokenizedTexts, ids: Sequence[int], pad_token_id: int
) -> dict[str, Tensor]:
    """Right-pad the sequences ``ids`` of ``texts`` to the longest of them."""
    length = max((len(texts.input_ids[i]) for i in ids), default=0)
    input_ids = torch.full((len(ids), length), pad_token_id, dtype=torch.long)  # (b, length)
    attention_mask = torch.zeros((len(ids), length), dtype=torch.long)  # (b, length)
    token_type_ids = torch.zeros((len(ids), length), dtype=torch.long)  # (b, length)

    for row, i in enumerate(ids):
        sequence = texts.input_ids[i]
        input_ids[row, : len(sequence)] = torch.tensor(sequence, dtype=torch.long)
        attention_mask[row, : len(sequence)] = 1
        if texts.token_type_ids is not None:
            token_type_ids[row, : len(sequence)] = torch.tensor(texts.token_type_ids[i])

    inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
    if texts.token_type_ids is not None:
        inputs["token_type_ids"] = token_type_ids
    return inputs


class CstsTokenizedSplit:
    """A C-STS split whose distinct sentences, conditions, pairs or joint texts are tokenised once.

    The token ids are kept unpadded and reused by every batch of every epoch. ``labels``
    contains the scaled labels (y - 1) / 4, with NaN where the label is hidden.
    """

    def __init__(
        self,
        examples: Sequence[CstsExample],
        tokenizer: Any,
        encoding: str,
        max_seq_length: int,
    ) -> None:
        validate_split_options(tokenizer, encoding, max_seq_length)
        self.encoding = encoding
        self.max_seq_length = max_seq_length
        self.pad_token_id: int = tokenizer.pad_token_id
        self.num_rows = len(examples)
        self.labels = torch.tensor(
            [math.nan if e.label == HIDDEN_LABEL else scaled_label(e.label) for e in examples],
            dtype=torch.float32,
        )  # (n_rows,)

        if encoding == "tri_encoder":
            self._tokenize_tri_encoder(examples, tokenizer)
        elif encoding == "bi_encoder":
            self._tokenize_bi_encoder(examples, tokenizer)
        else:
            self._tokenize_cross_encoder(examples, tokenizer)
        logger.info(
            "tokenised %d rows for %s: %s", self.num_rows, encoding, self.sequence_counts()
        )

    def _tokenize_tri_encoder(self, examples: Sequence[CstsExample], tokenizer: Any) -> None:
        rows = len(examples)
        sentences = [e.sentence1 for e in examples] + [e.sentence2 for e in examples]
        distinct_sentences, sentence_ids = _index_distinct(sentences)
        distinct_conditions, self.condition_ids = _index_distinct([e.condition for e in examples])

        self.sentence1_ids, self.sentence2_ids = sentence_ids[:rows], sentence_ids[rows:]
        self.sentences = _tokenize(tokenizer, distinct_sentences, self.max_seq_length)
        self.conditions = _tokenize(tokenizer, distinct_conditions, self.max_seq_length)

    def _tokenize_bi_encoder(self, examples: Sequence[CstsExample], tokenizer: Any) -> None:
        rows = len(examples)
        pairs = [(e.sentence1, e.condition) for e in examples]
        pairs += [(e.sentence2, e.condition) for e in examples]
        distinct_pairs, pair_ids = _index_distinct(pairs)

        self.pair1_ids, self.pair2_ids = pair_ids[:rows], pair_ids[rows:]
        self.pairs = _tokenize(
            tokenizer,
            [sentence for sentence, _ in distinct_pairs],
            self.max_seq_length,
            text_pairs=[condition for _, condition in distinct_pairs],
        )

    def _tokenize_cross_encoder(self, examples: Sequence[CstsExample], tokenizer: Any) -> None:
        # The sentences form the first segment and the condition the second, giving
        # "[CLS] s1 [SEP] s2 [SEP] c [SEP]" for BERT. Truncation ("longest_first") removes
        # tokens from the longer segment, so a long sentence pair keeps a short condition whole.
        keys = [(e.sentence1, e.sentence2, e.condition) for e in examples]
        distinct_keys, self.joint_ids = _index_distinct(keys)

        separator = f" {tokenizer.sep_token} "
        self.joint = _tokenize(
            tokenizer,
            [s1 + separator + s2 for s1, s2, _ in distinct_keys],
            self.max_seq_length,
            text_pairs=[condition for _, _, condition in distinct_keys],
        )

    def __len__(self) -> int:
        return self.num_rows

    def sequence_counts(self) -> dict[str, int]:
        """Return the number of distinct tokenised texts per kind (for logs and run summaries)."""
        if self.encoding == "tri_encoder":
            return {"sentences": len(self.sentences), "conditions": len(self.conditions)}
        if self.encoding == "bi_encoder":
            return {"pairs": len(self.pairs)}
        return {"joint": len(self.joint)}


def validate_split_options(tokenizer: Any, encoding: str, max_seq_length: int) -> None:
    """Raise ``ValueError`` for an unknown encoding, an invalid length or no padding token."""
    if encoding not in CSTS_ENCODINGS:
        raise ValueError(f"invalid encoding {encoding!r}; choose one of {CSTS_ENCODINGS}")
    if tokenizer.pad_token_id is None:
        raise ValueError(
            "the tokenizer has no padding token (pad_token_id is None); "
            "set one, for example tokenizer.pad_token = tokenizer.eos_token"
        )

    minimum = tokenizer.num_special_tokens_to_add(pair=True) + 2
    model_max_length = tokenizer.model_max_length
    if not isinstance(max_seq_length, int) or max_seq_length < minimum:
        raise ValueError(
            f"invalid max_seq_length {max_seq_length!r}: use an integer >= {minimum} "
            "(room for the special tokens and at least one token per text)"
        )
    # Tokenizers without a known limit report a huge sentinel value instead of one.
    if model_max_length < 1_000_000 and max_seq_length > model_max_length:
        raise ValueError(
            f"max_seq_length {max_seq_length} is larger than the model's limit of "
            f"{model_max_length} tokens; use max_seq_length <= {model_max_length}"
        )


class CstsCollator:
    """Builds ``CstsBatch`` objects from row indices or quadruplets of a ``CstsTokenizedSplit``."""

    def __init__(self, split: CstsTokenizedSplit) -> None:
        self.split = split

    def _pad_distinct(
        self, texts: TokenizedTexts, *row_ids: Sequence[int]
    ) -> tuple[dict[str, Tensor], list[Tensor]]:
        """Pad the distinct sequences of ``row_ids`` and return them with batch-local indices."""
        distinct, local = _index_distinct([i for ids in row_ids for i in ids])
        inputs = pad_sequences(texts, distinct, self.split.pad_token_id)

        rows = len(row_ids[0])
        local_index = torch.tensor(local, dtype=torch.long)  # (len(row_ids) * n_rows,)
        return inputs, list(local_index.split(rows))

    def collate_rows(self, rows: Sequence[int], tied: Tensor | None = None) -> CstsBatch:
        """Build the batch of the split rows ``rows`` (``tied`` only for quadruplet batches)."""
        split = self.split
        row_index = torch.tensor(rows, dtype=torch.long)  # (n_rows,)
        batch = CstsBatch(labels=split.labels[row_index], row_index=row_index, tied=tied)

        if split.encoding == "tri_encoder":
            sentence1 = [split.sentence1_ids[r] for r in rows]
            sentence2 = [split.sentence2_ids[r] for r in rows]
            batch.sentences, (batch.sentence1_index, batch.sentence2_index) = self._pad_distinct(
                split.sentences, sentence1, sentence2
            )
            conditions = [split.condition_ids[r] for r in rows]
            batch.conditions, (batch.condition_index,) = self._pad_distinct(
                split.conditions, conditions
            )
        elif split.encoding == "bi_encoder":
            pair1 = [split.pair1_ids[r] for r in rows]
            pair2 = [split.pair2_ids[r] for r in rows]
            batch.pairs, (batch.pair1_index, batch.pair2_index) = self._pad_distinct(
                split.pairs, pair1, pair2
            )
        else:
            joint = [split.joint_ids[r] for r in rows]
            batch.joint = pad_sequences(split.joint, joint, split.pad_token_id)
        return batch

    def collate_quadruplets(self, quadruplets: Sequence[Quadruplet]) -> CstsBatch:
        """Build a training batch: rows high, low of each quadruplet in turn, and ``tied``."""
        rows = [row for q in quadruplets for row in (q.high, q.low)]
        tied = torch.tensor([q.tied for q in quadruplets], dtype=torch.bool)  # (m,)
        return self.collate_rows(rows, tied=tied)


def iter_eval_batches(split: CstsTokenizedSplit, batch_size: int) -> Iterator[CstsBatch]:
    """Yield every row of ``split`` in file order, ``batch_size`` rows a batch (last partial)."""
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"invalid evaluation batch_size {batch_size!r}: use an integer >= 1")

    collator = CstsCollator(split)
    for start in range(0, len(split), batch_size):
        yield collator.collate_rows(range(start, min(start + batch_size, len(split))))


def validate_train_batch_size(batch_size_rows: int) -> None:
    """Raise ``ValueError`` unless a batch has whole quadruplets: an even number >= 2 of rows."""
    if not isinstance(batch_size_rows, int) or batch_size_rows < 2 or batch_size_rows % 2:
        raise ValueError(
            f"invalid training batch_size {batch_size_rows!r}: it counts rows and each "
            "quadruplet contributes two, so use an even integer >= 2"
        )


def num_train_batches(num_quadruplets: int, batch_size_rows: int) -> int:
    """Return how many batches ``iter_train_batches`` yields per epoch (the last one partial)."""
    validate_train_batch_size(batch_size_rows)
    return math.ceil(num_quadruplets / (batch_size_rows // 2))


def iter_train_batches(
    split: CstsTokenizedSplit,
    quadruplets: Sequence[Quadruplet],
    batch_size_rows: int,
    generator: torch.Generator,
) -> Iterator[CstsBatch]:
    """Yield the quadruplets, shuffled by ``generator``, ``batch_size_rows // 2`` a batch.

    The last batch keeps the remaining quadruplets. The same generator state gives the same order.
    """
    validate_train_batch_size(batch_size_rows)

    per_batch = batch_size_rows // 2
    order = torch.randperm(len(quadruplets), generator=generator).tolist()
    collator = CstsCollator(split)
    for start in range(0, len(order), per_batch):
        chunk = [quadruplets[i] for i in order[start : start + per_batch]]
        yield collator.collate_quadruplets(chunk)
