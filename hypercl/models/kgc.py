"""Knowledge-graph completion models: the SimKGC bi-encoder and the Hyper-CL tri-encoder.

Both score a query ``(head, relation)`` against a tail entity by the dot product of two
L2-normalised vectors, and both own the learnable log inverse temperature θ of the InfoNCE
loss, initialised to log(1 / init_temperature).

- ``KgcBiEncoder``: ``encoder`` embeds the text pair "head text [SEP] relation text" and a
  second encoder, ``tail_encoder``, embeds entity texts (both start from one checkpoint).
- ``KgcTriEncoder``: one shared ``encoder`` embeds head, relation and tail texts separately.
  The relation embedding passes the condition transform, and a condition head turns the head
  embedding into the query. Each distinct relation of a batch is encoded once, and the head
  (the hypernetwork above all) runs its per-relation work once per distinct relation.

Encoders are direct ``SentenceEncoder`` children because the checkpoint code saves those as
Hugging Face folders. Every other weight (θ, transform, head) goes to the head weights file.
"""

from __future__ import annotations

import copy
import logging
import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from hypercl.data.kgc_batching import KGC_ENCODINGS, KgcBatch, TokenBatch
from hypercl.models.encoder import SentenceEncoder
from hypercl.models.heads import ConditionTransform, build_head
from hypercl.training.config import TrainConfig

logger = logging.getLogger(__name__)

KGC_HEADS = ("hypernet", "concat", "hadamard")


@dataclass
class KgcOutput:
    """Normalised embeddings of a training batch."""

    queries: torch.Tensor  # (n, d)
    tails: torch.Tensor  # (n, d)
    heads: torch.Tensor | None  # (n, d) head entities as tails score them, for self-negatives


def embed(encoder: SentenceEncoder, tokens: TokenBatch) -> torch.Tensor:
    """Encode a token batch and L2-normalise each vector."""
    return F.normalize(encoder(**tokens.inputs()), dim=-1)  # (n, d)


def log_inverse_temperature(init_temperature: float) -> nn.Parameter:
    """Return θ = log(1 / init_temperature) as a learnable scalar."""
    if init_temperature <= 0:
        raise ValueError(f"--init-temperature must be > 0, got {init_temperature}")
    return nn.Parameter(torch.tensor(math.log(1.0 / init_temperature)))


class KgcBiEncoder(nn.Module):
    """SimKGC: query encoder over "head text [SEP] relation text", separate tail encoder."""

    def __init__(
        self, encoder: SentenceEncoder, tail_encoder: SentenceEncoder, init_temperature: float
    ):
        super().__init__()
        self.encoder = encoder
        self.tail_encoder = tail_encoder
        self.log_inv_temperature = log_inverse_temperature(init_temperature)

    def encode_queries(self, batch: KgcBatch) -> torch.Tensor:
        if batch.hr_tokens is None:
            raise ValueError(
                "the bi-encoder needs hr_tokens; build the batch with a bi_encoder batcher"
            )
        return embed(self.encoder, batch.hr_tokens)  # (n, d)

    def encode_entities(self, tokens: TokenBatch) -> torch.Tensor:
        return embed(self.tail_encoder, tokens)  # (n, d)

    def forward(self, batch: KgcBatch) -> KgcOutput:
        """Embed queries and tails; heads too when the batch carries head tokens."""
        heads = None if batch.head_tokens is None else self.encode_entities(batch.head_tokens)
        return KgcOutput(
            self.encode_queries(batch), self.encode_entities(batch.tail_tokens), heads
        )


class KgcTriEncoder(nn.Module):
    """Hyper-CL: query = normalise(head(h, transform(r))) with h, r, t from one shared encoder."""

    def __init__(
        self,
        encoder: SentenceEncoder,
        head: nn.Module,
        transform: ConditionTransform,
        init_temperature: float,
        condition_encoder: SentenceEncoder | None = None,
    ):
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.transform = transform
        self.log_inv_temperature = log_inverse_temperature(init_temperature)
        if condition_encoder is not None:
            self.condition_encoder = condition_encoder

    def _relation_encoder(self) -> SentenceEncoder:
        return getattr(self, "condition_encoder", self.encoder)

    def _queries_and_heads(self, batch: KgcBatch) -> tuple[torch.Tensor, torch.Tensor]:
        if batch.head_tokens is None or batch.relation_tokens is None:
            raise ValueError(
                "the tri-encoder needs head_tokens and relation_tokens; "
                "build the batch with a tri_encoder batcher"
            )
        heads = embed(self.encoder, batch.head_tokens)  # (n, d)
        relations = embed(self._relation_encoder(), batch.relation_tokens)  # (k, d), distinct
        conditions = self.transform(relations)  # (k, d)
        queries = self.head(heads, conditions, batch.relation_index)  # (n, d)
        return F.normalize(queries, dim=-1), heads

    def encode_queries(self, batch: KgcBatch) -> torch.Tensor:
        return self._queries_and_heads(batch)[0]  # (n, d)

    def encode_entities(self, tokens: TokenBatch) -> torch.Tensor:
        return embed(self.encoder, tokens)  # (n, d)

    def forward(self, batch: KgcBatch) -> KgcOutput:
        """Embed queries and tails; the head embedding doubles as the self-negative."""
        queries, heads = self._queries_and_heads(batch)
        return KgcOutput(queries, self.encode_entities(batch.tail_tokens), heads)


def build_kgc_model(config: TrainConfig, encoder: SentenceEncoder) -> nn.Module:
    """Build the model of ``config.encoding`` around a loaded encoder.

    A second encoder (the bi-encoder's tail encoder, the tri-encoder's relation encoder when
    ``config.dual``) is a deep copy of ``encoder``, so both start from the same checkpoint.
    """
    if config.encoding not in KGC_ENCODINGS:
        raise ValueError(
            f"--encoding must be one of {KGC_ENCODINGS} for --task kgc, got {config.encoding!r}"
        )
    if config.encoding == "bi_encoder":
        if encoder.pooler.mode != "avg":
            # NOTE: allowed for experiments, but SimKGC's bi-encoder is defined with mean pooling.
            logger.warning(
                "the SimKGC bi-encoder uses --pooler avg; this run uses %r", encoder.pooler.mode
            )
        return KgcBiEncoder(encoder, copy.deepcopy(encoder), config.init_temperature)

    if config.head not in KGC_HEADS:
        raise ValueError(
            f"--head must be one of {KGC_HEADS} for the kgc tri-encoder, got {config.head!r}; "
            "a query must depend on its relation"
        )
    hidden_size = encoder.hidden_size
    head = build_head(config.head, hidden_size, config.scaler, config.dropout)
    transform = ConditionTransform(hidden_size, config.dropout)
    condition_encoder = copy.deepcopy(encoder) if config.dual else None
    return KgcTriEncoder(encoder, head, transform, config.init_temperature, condition_encoder)
