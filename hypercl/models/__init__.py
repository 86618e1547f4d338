"""Models: the sentence encoder, the condition heads (Hyper-CL's hypernetwork) and C-STS models."""

from hypercl.models.csts import (
    CSTS_ENCODINGS,
    CstsBiEncoder,
    CstsCrossEncoder,
    CstsOutput,
    CstsTriEncoder,
    build_csts_model,
    encoder_modules,
)
from hypercl.models.encoder import (
    EMBEDDED_MODEL_ALIASES,
    POOLERS,
    ModelNotFoundError,
    Pooler,
    SentenceEncoder,
    load_encoder,
    resolve_model_path,
)
from hypercl.models.heads import (
    HEADS,
    ConditionTransform,
    build_head,
    hypernet_num_parameters,
    low_rank_dim,
)

__all__ = [
    "CSTS_ENCODINGS",
    "EMBEDDED_MODEL_ALIASES",
    "HEADS",
    "POOLERS",
    "ConditionTransform",
    "CstsBiEncoder",
    "CstsCrossEncoder",
    "CstsOutput",
    "CstsTriEncoder",
    "ModelNotFoundError",
    "Pooler",
    "SentenceEncoder",
    "build_csts_model",
    "build_head",
    "encoder_modules",
    "hypernet_num_parameters",
    "load_encoder",
    "low_rank_dim",
    "resolve_model_path",
]
