"""Token batches for knowledge-graph completion: each distinct text is tokenised once.

A ``KgcBatcher`` turns entity and relation indices into padded token tensors for either model:

- ``bi_encoder`` (SimKGC): the query is the text pair ``(head text, relation text)``;
- ``tri_encoder`` (Hyper-CL): head and relation texts are separate inputs, and each distinct
  relation of a batch is tokenised (and later encoded) once.

Tails are always single entity texts. Training batches also carry the masks of negatives that
are known true tails of a query.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from hypercl.data.kgc import EntityTexts, KgcData, KnownTriples, build_link_graph

KGC_ENCODINGS = ("bi_encoder", "tri_encoder")

# Token ids and token type ids (None when the tokenizer has none) of one sequence.
Encoded = tuple[np.ndarray, np.ndarray | None]


@dataclass
class TokenBatch:
    """Padded token tensors of ``n`` sequences, as a Hugging Face encoder takes them."""

    input_ids: torch.Tensor  # (n, length)
    attention_mask: torch.Tensor  # (n, length)
    token_type_ids: torch.Tensor | None = None  # (n, length)

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    def to(self, device: torch.device | str) -> TokenBatch:
        token_type_ids = None if self.token_type_ids is None else self.token_type_ids.to(device)
        return TokenBatch(
            self.input_ids.to(device), self.attention_mask.to(device), token_type_ids
        )

    def inputs(self) -> dict[str, torch.Tensor | None]:
        """Return the keyword arguments of ``SentenceEncoder.forward``."""
        return {
            "input_ids": self.input_ids,
            "attention_mask": self.attention_mask,
            "token_type_ids": self.token_type_ids,
        }


def pad_encodings(encodings: Sequence[Encoded], pad_id: int) -> TokenBatch:
    """Right-pad sequences to the longest one and return them as a TokenBatch."""
    length = max(len(ids) for ids, _ in encodings)
    input_ids = np.full((len(encodings), length), pad_id, dtype=np.int64)
    attention_mask = np.zeros((len(encodings), length), dtype=np.int64)
    has_types = encodings[0][1] is not None
    token_type_ids = np.zeros((len(encodings), length), dtype=np.int64) if has_types else None

    for row, (ids, types) in enumerate(encodings):
        input_ids[row, : len(ids)] = ids
        attention_mask[row, : len(ids)] = 1
        if token_type_ids is not None:
            token_type_ids[row, : len(ids)] = types

    return TokenBatch(
        torch.from_numpy(input_ids),
        torch.from_numpy(attention_mask),
        None if token_type_ids is None else torch.from_numpy(token_type_ids),
    )


class TokenCache:
    """Tokenise texts or text pairs on first request and keep the ids as small int32 arrays.

    Storing numpy arrays keeps the 173,670 query pairs of WN18RR (forward and inverse training
    triples) at tens of megabytes, where Python lists of ints would take hundreds.
    """

    def __init__(self, tokenizer: Any, max_seq_length: int):
        self.tokenizer = tokenizer
        self.max_seq_length = max_seq_length
        self.store: dict[Hashable, Encoded] = {}

    def get(
        self, keys: Sequence[Hashable], text_of: Callable[[Any], str | tuple[str, str]]
    ) -> list[Encoded]:
        """Return the encodings of ``keys``, tokenising the missing ones in one call."""
        missing = list(dict.fromkeys(key for key in keys if key not in self.store))
        if missing:
            self._tokenize(missing, [text_of(key) for key in missing])
        return [self.store[key] for key in keys]

    def _tokenize(self, keys: list[Hashable], texts: list[str | tuple[str, str]]) -> None:
        if isinstance(texts[0], tuple):
            first, second = [list(column) for column in zip(*texts, strict=True)]
        else:
            first, second = texts, None
        output = self.tokenizer(
            first, second, truncation=True, max_length=self.max_seq_length, padding=False
        )
        types = output.get("token_type_ids")
        for index, key in enumerate(keys):
            ids = np.asarray(output["input_ids"][index], dtype=np.int32)
            type_ids = None if types is None else np.asarray(types[index], dtype=np.int8)
            self.store[key] = (ids, type_ids)


@dataclass
class KgcBatch:
    """Queries ``(head, relation)`` and, for training, their tails and negative masks.

    ``relation_tokens`` contains each distinct relation of the batch once and ``relation_index``
    points every query at its row. Fields that the model or the step does not need are None.
    """

    heads: torch.Tensor  # (n,) entity indices
    relations: torch.Tensor  # (n,) relation indices in [0, 2R)
    hr_tokens: TokenBatch | None = None
    head_tokens: TokenBatch | None = None
    relation_tokens: TokenBatch | None = None
    relation_index: torch.Tensor | None = None  # (n,)
    tails: torch.Tensor | None = None  # (n,)
    tail_tokens: TokenBatch | None = None
    true_tail_mask: torch.Tensor | None = None  # (n, n) bool, True: tail j is a true tail of i
    self_negative_mask: torch.Tensor | None = None  # (n,) bool, True: head i is a true tail

    def __len__(self) -> int:
        return int(self.heads.shape[0])

    def to(self, device: torch.device | str) -> KgcBatch:
        moved = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            moved[field.name] = None if value is None else value.to(device)
        return KgcBatch(**moved)


class KgcBatcher:
    """Build token batches of one data set for one encoding, tokenising each text once."""

    def __init__(
        self,
        data: KgcData,
        tokenizer: Any,
        encoding: str,
        max_seq_length: int,
        neighbor_names: bool = False,
        train_known: KnownTriples | None = None,
    ):
        if encoding not in KGC_ENCODINGS:
            raise ValueError(
                f"--encoding must be one of {KGC_ENCODINGS} for --task kgc, got {encoding!r}"
            )
        self.encoding = encoding
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        graph = build_link_graph(data.train, data.num_entities) if neighbor_names else None
        self.texts = EntityTexts(data, graph)
        self.relation_texts = data.relation_texts()
        self.train_known = train_known

        self.entity_cache = TokenCache(tokenizer, max_seq_length)
        self.relation_cache = TokenCache(tokenizer, max_seq_length)
        self.pair_cache = TokenCache(tokenizer, max_seq_length)
        self.tokenizer = tokenizer
        self.max_seq_length = max_seq_length

    def tokenize_all(self) -> None:
        """Tokenise every entity text (without exclusions) and every relation text now."""
        self.entity_tokens(range(len(self.texts)))
        self.relation_cache.get(range(len(self.relation_texts)), self.relation_texts.__getitem__)

    def entity_lengths(self) -> torch.Tensor:
        """Return the token count of every entity text without exclusions, ``(E,)``."""
        keys = [(entity, None) for entity in range(len(self.texts))]
        encodings = self.entity_cache.get(keys, self._entity_text)
        return torch.tensor([len(ids) for ids, _ in encodings], dtype=torch.long)

    def _entity_text(self, key: tuple[int, int | None]) -> str:
        return self.texts.text(*key)

    def entity_tokens(
        self, entities: Sequence[int], exclude: Sequence[int | None] | None = None
    ) -> TokenBatch:
        """Return the tokens of entity texts, leaving ``exclude[i]`` out of entity i's neighbours."""
        exclude = exclude if exclude is not None else [None] * len(entities)
        keys = [self.texts.cache_key(e, x) for e, x in zip(entities, exclude, strict=True)]
        return pad_encodings(self.entity_cache.get(keys, self._entity_text), self.pad_id)

    def relation_tokens(self, relations: torch.Tensor) -> tuple[TokenBatch, torch.Tensor]:
        """Return the tokens of the distinct relations ``(k, L)`` and each query's row ``(n,)``."""
        distinct, index = torch.unique(relations, return_inverse=True)
        encodings = self.relation_cache.get(distinct.tolist(), self.relation_texts.__getitem__)
        return pad_encodings(encodings, self.pad_id), index

    def _pair_text(self, key: tuple[tuple[int, int | None], int]) -> tuple[str, str]:
        entity_key, relation = key
        return self.texts.text(*entity_key), self.relation_texts[relation]

    def query_batch(
        self,
        heads: torch.Tensor,
        relations: torch.Tensor,
        exclude: Sequence[int | None] | None = None,
        with_head_tokens: bool = False,
    ) -> KgcBatch:
        """Build the query side of a batch; the tri-encoder always gets head tokens."""
        head_list, relation_list = heads.tolist(), relations.tolist()
        exclude = exclude if exclude is not None else [None] * len(head_list)
        batch = KgcBatch(heads=heads, relations=relations)

        if self.encoding == "bi_encoder":
            keys = [
                (self.texts.cache_key(h, x), r)
                for h, x, r in zip(head_list, exclude, relation_list, strict=True)
            ]
            batch.hr_tokens = pad_encodings(
                self.pair_cache.get(keys, self._pair_text), self.pad_id
            )
        else:
            batch.relation_tokens, batch.relation_index = self.relation_tokens(relations)

        if with_head_tokens or self.encoding == "tri_encoder":
            batch.head_tokens = self.entity_tokens(head_list, exclude)
        return batch

    def text_query_batch(self, head_texts: Sequence[str], relations: torch.Tensor) -> KgcBatch:
        """Build queries from free head texts (entities outside the graph), uncached."""
        heads = torch.full((len(head_texts),), -1, dtype=torch.long)
        batch = KgcBatch(heads=heads, relations=relations)
        cache = TokenCache(self.tokenizer, self.max_seq_length)
        if self.encoding == "bi_encoder":
            pairs = [
                (text, self.relation_texts[r])
                for text, r in zip(head_texts, relations.tolist(), strict=True)
            ]
            encodings = cache.get(range(len(pairs)), pairs.__getitem__)
            batch.hr_tokens = pad_encodings(encodings, self.pad_id)
        else:
            batch.relation_tokens, batch.relation_index = self.relation_tokens(relations)
            encodings = cache.get(range(len(head_texts)), list(head_texts).__getitem__)
            batch.head_tokens = pad_encodings(encodings, self.pad_id)
        return batch

    def train_batch(self, triples: torch.Tensor, self_negative: bool) -> KgcBatch:
        """Build a training batch from ``(n, 3)`` triples, with the masks of known true tails.

        The masks use ``train_known`` (training triples only), so validation and test triples
        never affect training. The head text leaves out the gold tail and the tail text the
        head, when neighbour names are on.
        """
        heads, relations, tails = triples.unbind(dim=1)
        batch = self.query_batch(heads, relations, tails.tolist(), with_head_tokens=self_negative)
        batch.tails = tails
        batch.tail_tokens = self.entity_tokens(tails.tolist(), heads.tolist())

        if self.train_known is not None:
            known = self.train_known.contains(heads[:, None], relations[:, None], tails[None, :])
            diagonal = torch.eye(len(tails), dtype=torch.bool)
            batch.true_tail_mask = known & ~diagonal  # (n, n)
            if self_negative:
                batch.self_negative_mask = self.train_known.contains(heads, relations, heads)
        return batch


def iter_train_batches(
    batcher: KgcBatcher,
    triples: torch.Tensor,
    batch_size: int,
    generator: torch.Generator,
    self_negative: bool,
) -> Iterator[KgcBatch]:
    """Yield shuffled training batches; the last one may be smaller."""
    order = torch.randperm(triples.shape[0], generator=generator)
    for start in range(0, len(order), batch_size):
        yield batcher.train_batch(triples[order[start : start + batch_size]], self_negative)
