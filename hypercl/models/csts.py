"""C-STS models: the tri-encoder with a condition head (Hyper-CL), the bi- and the cross-encoder.

Each model maps a ``CstsBatch`` to one score per row. The tri- and bi-encoder score a row by
the cosine similarity of its two conditioned sentence embeddings. The cross-encoder regresses
the score from the pooled joint encoding of both sentences and the condition.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from hypercl.data.csts_batching import CSTS_ENCODINGS, CstsBatch
from hypercl.losses.csts import OBJECTIVES, validate_loss_options
from hypercl.models.encoder import POOLERS, SentenceEncoder
from hypercl.models.heads import ConditionTransform, build_head, validate_head_options
from hypercl.training.config import TrainConfig

logger = logging.getLogger(__name__)

__all__ = [
    "CSTS_ENCODINGS",
    "CstsBiEncoder",
    "CstsCrossEncoder",
    "CstsOutput",
    "CstsTriEncoder",
    "build_csts_model",
    "encoder_modules",
]


@dataclass
class CstsOutput:
    """Per-row scores and, for the tri- and bi-encoder, the two conditioned embeddings."""

    scores: torch.Tensor  # (n_rows,)
    emb1: torch.Tensor | None = None  # (n_rows, d)
    emb2: torch.Tensor | None = None  # (n_rows, d)


class CstsTriEncoder(nn.Module):
    """Encode sentences and conditions separately, condition each sentence with a head, compare.

    Each distinct sentence and condition of the batch is encoded once. With ``dual=True`` a
    second copy of the encoder, initialised from the same weights, encodes the conditions.
    """

    def __init__(
        self,
        encoder: SentenceEncoder,
        head: str = "hypernet",
        scaler: int = 1,
        dropout: float = 0.1,
        dual: bool = False,
    ) -> None:
        super().__init__()
        d = encoder.hidden_size
        self.encoder = encoder
        self.head = build_head(head, d, scaler, dropout)

        uses_condition = self.head.uses_condition
        if dual and not uses_condition:
            raise ValueError(
                f"dual=True adds a condition encoder, but head {head!r} ignores the condition; "
                "use dual=False or a head that uses it (hypernet, concat, hadamard)"
            )
        self.condition_encoder = copy.deepcopy(encoder) if dual else None
        self.condition_transform = ConditionTransform(d, dropout) if uses_condition else None

    def encode_conditions(self, batch: CstsBatch) -> torch.Tensor | None:
        """Return the transformed embeddings c' of the batch's distinct conditions (n_cond, d)."""
        if self.condition_transform is None:
            # NOTE: the batch still carries padded conditions that are never encoded, so its
            # num_sequences and token counts overstate the work of the ``none`` head.
            return None

        encoder = self.condition_encoder if self.condition_encoder is not None else self.encoder
        conditions = encoder(**batch.conditions)  # (n_cond, d)
        return self.condition_transform(conditions)  # (n_cond, d)

    def forward(self, batch: CstsBatch) -> CstsOutput:
        rows = batch.num_rows
        sentences = self.encoder(**batch.sentences)  # (n_sentences, d)
        conditions = self.encode_conditions(batch)  # (n_cond, d) or None

        # Both sentences of every row go through the head in one call.
        h = torch.cat([sentences[batch.sentence1_index], sentences[batch.sentence2_index]])
        condition_index = batch.condition_index.repeat(2)  # (2 n_rows,)
        conditioned = self.head(h, conditions, condition_index)  # (2 n_rows, d)

        # Under autocast the head may return bfloat16 or float16. Cosines and losses are
        # computed in float32, because the contrastive term compares close cosine values.
        conditioned = conditioned.float()

        emb1, emb2 = conditioned[:rows], conditioned[rows:]  # (n_rows, d) each
        return CstsOutput(F.cosine_similarity(emb1, emb2, dim=-1), emb1, emb2)


class CstsBiEncoder(nn.Module):
    """Encode each sentence together with the condition as a text pair and score cos(u1, u2)."""

    def __init__(self, encoder: SentenceEncoder) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, batch: CstsBatch) -> CstsOutput:
        pairs = self.encoder(**batch.pairs).float()  # (n_pairs, d), float32 under autocast too
        emb1 = pairs[batch.pair1_index]  # (n_rows, d)
        emb2 = pairs[batch.pair2_index]  # (n_rows, d)
        return CstsOutput(F.cosine_similarity(emb1, emb2, dim=-1), emb1, emb2)


class CstsCrossEncoder(nn.Module):
    """Encode "s1 [SEP] s2 [SEP] c" jointly and score it with a linear map of the pooled vector."""

    def __init__(self, encoder: SentenceEncoder, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.regressor = nn.Linear(encoder.hidden_size, 1)

    def forward(self, batch: CstsBatch) -> CstsOutput:
        pooled = self.encoder(**batch.joint)  # (n_rows, d)
        scores = self.regressor(self.dropout(pooled)).squeeze(-1)  # (n_rows,)
        return CstsOutput(scores.float())


def encoder_modules(model: nn.Module) -> dict[str, SentenceEncoder]:
    """Return the model's sentence encoders by attribute name (``encoder``, ...)."""
    return {
        name: child for name, child in model.named_children() if isinstance(child, SentenceEncoder)
    }


def validate_csts_config(config: TrainConfig, encoder: SentenceEncoder) -> None:
    """Raise ``ValueError`` for options that are invalid or do not fit together."""
    if config.encoding not in CSTS_ENCODINGS:
        raise ValueError(f"invalid encoding {config.encoding!r}; choose one of {CSTS_ENCODINGS}")
    if config.pooler not in POOLERS:
        raise ValueError(f"invalid pooler {config.pooler!r}; choose one of {POOLERS}")
    if config.pooler != encoder.pooler.mode:
        raise ValueError(
            f"the encoder was loaded with pooler {encoder.pooler.mode!r} but the config asks "
            f"for pooler {config.pooler!r}; load it with load_encoder(model, config.pooler)"
        )
    validate_head_options(config.head, encoder.hidden_size, config.scaler, config.dropout)
    validate_loss_options(
        config.objective, config.temperature, config.in_batch_negatives, config.tied_pairs
    )

    if config.encoding == "cross_encoder" and config.objective != "mse":
        raise ValueError(
            f"objective {config.objective!r} compares cosine similarities of sentence "
            "embeddings, which the cross_encoder does not produce; use objective 'mse' "
            f"with the cross_encoder, or another encoding (objectives: {OBJECTIVES})"
        )
    if config.dual and config.encoding != "tri_encoder":
        raise ValueError(
            f"dual=True (a second encoder for conditions) needs encoding 'tri_encoder', "
            f"not {config.encoding!r}; set dual=False"
        )


def build_csts_model(config: TrainConfig, encoder: SentenceEncoder) -> nn.Module:
    """Validate the model options of ``config`` and build its C-STS model around ``encoder``."""
    validate_csts_config(config, encoder)

    if config.encoding == "tri_encoder":
        model: nn.Module = CstsTriEncoder(
            encoder, config.head, config.scaler, config.dropout, config.dual
        )
    elif config.encoding == "bi_encoder":
        model = CstsBiEncoder(encoder)
    else:
        model = CstsCrossEncoder(encoder, config.dropout)

    if config.encoding != "tri_encoder":
        logger.info(
            "encoding %s uses no condition head: head=%r and scaler=%d are ignored",
            config.encoding,
            config.head,
            config.scaler,
        )
    return model
